"""course-pipeline payloads: the request bodies a first sync sends, in the vendor's batches (one JSON document
a line), or with --lines one item a line; vendor rejects on stderr either way, and the same exit codes."""

from __future__ import annotations

import json

import pytest

from course_pipeline.cli import main

NORTHWIND = ["--source", "northwind_academy"]


def payloads(sources_file, vendor: str, *extra: str, capsys) -> tuple[int, list[dict], str]:
    code = main(["payloads", str(sources_file), *NORTHWIND, "--vendor", vendor, *extra])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def rejected(err: str) -> list[tuple[str, str]]:
    return [(r["rejected"], r["rule"]) for r in map(json.loads, (line for line in err.splitlines()
                                                                  if line.startswith("{")))]


def test_payloads_are_batched_as_the_client_sends_them(sample_sources_file, capsys, monkeypatch):
    code, batched, err = payloads(sample_sources_file, "highlevel", capsys=capsys)
    assert code == 1 and rejected(err) == [("NW-101", "material_type")]  # rejects and exit code as before
    (request,) = batched  # HighLevel imports 10 products a request: the 3 it can take go in one
    assert set(request) == {"locationId", "products"} and len(request["products"]) == 3

    code, lines, err = payloads(sample_sources_file, "highlevel", "--lines", capsys=capsys)
    assert code == 1 and rejected(err) == [("NW-101", "material_type")]
    assert [body["products"] for body in lines] == [[p] for p in request["products"]]  # the same items, one a line

    monkeypatch.setenv("HIGHLEVEL_BATCH_SIZE", "2")  # the configured batch size is the client's
    _, batched, _ = payloads(sample_sources_file, "highlevel", capsys=capsys)
    assert [len(body["products"]) for body in batched] == [2, 1]
    assert [p for body in batched for p in body["products"]] == request["products"]  # in the order sent


@pytest.mark.parametrize("vendor, key", [("kombo", "items"), ("stackone", "items")])
def test_payloads_of_the_batch_vendors_are_one_request(sample_sources_file, capsys, vendor, key):
    _, batched, _ = payloads(sample_sources_file, vendor, capsys=capsys)
    _, lines, _ = payloads(sample_sources_file, vendor, "--lines", capsys=capsys)
    assert len(batched) == 1 and len(batched[0][key]) == len(lines) > 1
    assert batched[0][key] == [body[key][0] for body in lines]


def test_thought_industries_sends_one_course_a_request_unless_bulk(sample_sources_file, capsys, monkeypatch):
    _, single, _ = payloads(sample_sources_file, "thought_industries", capsys=capsys)
    assert len(single) > 1 and all("slug" in body and "courseType" in body for body in single)  # bare courses
    monkeypatch.setenv("THOUGHT_INDUSTRIES_DIALECT", "bulk")
    _, (bulk,), _ = payloads(sample_sources_file, "thought_industries", capsys=capsys)
    # A course type with no documented kind (a learning path) is not sent in the bulk dialect (KIND_UNSUPPORTED).
    kinds = {"course": "courseGroup", "video": "video", "article": "article"}
    assert [(item["slug"], item["kind"]) for item in bulk["courseAttributes"]] == [
        (body["slug"], kinds[body["courseType"]]) for body in single if body["courseType"] in kinds]
    assert {body["courseType"] for body in single} - set(kinds) == {"learning_path"}
    assert not any("courseType" in item for item in bulk["courseAttributes"])


def test_stackone_payloads_carry_only_the_custom_fields_the_project_configures(sample_sources_file, capsys,
                                                                              monkeypatch):
    """What is printed is what goes out: StackOne refuses unconfigured custom fields, so the client leaves
    them out, and so does `payloads`."""
    monkeypatch.delenv("STACKONE_CUSTOM_FIELDS", raising=False)
    _, (request,), _ = payloads(sample_sources_file, "stackone", capsys=capsys)
    assert not any("unified_custom_fields" in item for item in request["items"])
    monkeypatch.setenv("STACKONE_CUSTOM_FIELDS", "internal_code")
    _, (request,), _ = payloads(sample_sources_file, "stackone", capsys=capsys)
    fields = [item["unified_custom_fields"] for item in request["items"] if "unified_custom_fields" in item]
    assert fields and all(set(f) == {"internal_code"} for f in fields)


@pytest.mark.parametrize("vendor, dialect", [("highlevel", None), ("thought_industries", "bulk")])
def test_a_first_sync_sends_exactly_the_requests_payloads_prints(catalog, env, tmp_path, capsys, monkeypatch,
                                                                 vendor, dialect):
    """One request a printed line, no more: the sandbox counts what the sync sent."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    if dialect:
        monkeypatch.setenv("THOUGHT_INDUSTRIES_DIALECT", dialect)
        monkeypatch.setenv("THOUGHT_INDUSTRIES_BATCH_SIZE", "10")
    sources_file = catalog.write()
    assert main(["payloads", str(sources_file), "--source", catalog.name, "--vendor", vendor]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    batch = 5 if vendor == "highlevel" else 10  # the tests' HIGHLEVEL_BATCH_SIZE, and the one set here
    assert [len(body.get("products") or body.get("courseAttributes")) for body in printed] == [batch] * (30 // batch)
    assert main(["sync", str(sources_file), "--vendor", vendor]) == 0
    capsys.readouterr()
    held = env.state()["vendors"][vendor]
    assert held["counters"]["requests"] == len(printed)
    assert len(held["created_per_key"]) == catalog.n
