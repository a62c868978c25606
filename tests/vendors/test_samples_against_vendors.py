"""Every payload built from the sample catalogs validates against the vendors' own schemas (jsonschema,
on the copies shipped in the package) and is accepted by the local sandbox."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

import pytest
import requests
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from course_pipeline.catalog.mapping import extract_catalog
from course_pipeline.catalog.sources import load_sources
from course_pipeline.catalog.validation import validate_catalog
from course_pipeline.sandbox import SANDBOX_TOKENS, SandboxServer
from course_pipeline.vendors.base import build_payloads
from course_pipeline.vendors.highlevel.payload import HighLevel
from course_pipeline.vendors.kombo.payload import Kombo
from course_pipeline.vendors.stackone.payload import StackOne
from course_pipeline.vendors.thought_industries.payload import ThoughtIndustries

SOURCES = Path(__file__).resolve().parents[2] / "data" / "sources.yaml"
LOCATION = SANDBOX_TOKENS["highlevel_location_id"]


def schema_validator(filename: str, component: str) -> Draft202012Validator:
    document = json.loads(files("course_pipeline.sandbox").joinpath("vendor_schemas", filename).read_text())
    uri = f"urn:{filename}"
    registry = Registry().with_resource(uri, Resource.from_contents(document, default_specification=DRAFT202012))
    return Draft202012Validator({"$ref": f"{uri}#/components/schemas/{component}"}, registry=registry)


@pytest.fixture(scope="module")
def sample_payloads():
    out = {}
    for source in load_sources(SOURCES):
        valid = validate_catalog(extract_catalog(source)).valid
        vendors = [HighLevel(LOCATION), Kombo(), StackOne(), ThoughtIndustries()]
        out[source.name] = (vendors, build_payloads(valid, vendors))
    return out


def bodies(sample_payloads, vendor_name):
    for vendors, sets in sample_payloads.values():
        vendor = next(v for v in vendors if v.name == vendor_name)
        items = [item.body for item in sets[vendor_name].items]
        if items:
            yield vendor, items


@pytest.mark.parametrize("vendor, schema_file, component, at_least", [
    ("highlevel", "highlevel-courses.openapi.json", "PublicExporterPayload", 8),
    ("kombo", "kombo-lms-courses.openapi.json", "PostLmsCoursesBulkRequestBody", 9),
])
def test_requests_match_the_vendors_own_schema(sample_payloads, vendor, schema_file, component, at_least):
    validator = schema_validator(schema_file, component)
    count = 0
    for builder, items in bodies(sample_payloads, vendor):
        errors = list(validator.iter_errors(builder.request_body(items)))
        assert errors == [], [e.message for e in errors]
        count += len(items)
    assert count >= at_least


def test_the_schema_check_is_not_vacuous():
    validator = schema_validator("kombo-lms-courses.openapi.json", "PostLmsCoursesBulkRequestBody")
    bad = {"items": [{"origin_id": "x", "course": {"type": "EXTERNAL", "title": "t", "course_url": "u",
                                                   "languages": ["en_GB"]}}]}
    assert list(validator.iter_errors(bad))


@pytest.fixture(scope="module")
def sandbox():
    with SandboxServer() as server:
        yield server


def test_sandbox_accepts_every_sample_payload(sample_payloads, sandbox):
    urls, t = sandbox.base_urls, SANDBOX_TOKENS
    sent = {"highlevel": 0, "kombo": 0, "stackone": 0, "thought_industries": 0}
    for vendor, items in bodies(sample_payloads, "highlevel"):
        answer = requests.post(f"{urls['highlevel']}/courses/courses-exporter/public/import",
                               json=vendor.request_body(items), timeout=10,
                               headers={"Authorization": f"Bearer {t['highlevel_token']}", "Version": "2021-07-28"})
        assert answer.status_code == 201, answer.text
        sent["highlevel"] += len(items)
    for vendor, items in bodies(sample_payloads, "kombo"):
        answer = requests.post(f"{urls['kombo']}/lms/courses/bulk", json=vendor.request_body(items), timeout=10,
                               headers={"Authorization": f"Bearer {t['kombo_api_key']}",
                                        "X-Integration-Id": t["kombo_integration_id"]})
        assert answer.status_code == 200, answer.text
        sent["kombo"] += len(items)
    for vendor, items in bodies(sample_payloads, "stackone"):
        answer = requests.post(f"{urls['stackone']}/unified/lms/courses/batch", json=vendor.request_body(items),
                               auth=(t["stackone_api_key"], ""), headers={"x-account-id": t["stackone_account_id"]},
                               timeout=10)
        assert answer.status_code == 202, answer.text
        assert all(errors == [] for errors in answer.json()["errors"]), answer.text
        sent["stackone"] += len(items)
    for vendor, items in bodies(sample_payloads, "thought_industries"):
        for item in items:
            answer = requests.post(f"{urls['thought_industries']}/incoming/v2/courses", json=vendor.request_body([item]),
                                   headers={"Authorization": f"Bearer {t['thought_industries_api_key']}"}, timeout=10)
            assert answer.status_code == 201, answer.text
            sent["thought_industries"] += 1
    state = sandbox.state()["vendors"]
    for vendor in ("highlevel", "stackone", "thought_industries"):
        assert len(state[vendor]["courses"]) == sent[vendor], vendor
    assert sent["kombo"] >= 9
