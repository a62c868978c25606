"""StackOne contract: batch upsert (202, per-item errors), single PUT upsert, list filter, 10 requests/s."""

from __future__ import annotations

import pytest
import requests
from fake_clock import FakeClock

from course_pipeline.sandbox import SANDBOX_TOKENS

from .conftest import vendor_state

BATCH = "/unified/lms/courses/batch"
COURSES = "/unified/lms/courses"


def seed_item(reference: str = "course-1", title: str = "Python for Analysts") -> dict:
    """Every field of vendor-contracts.md section 3."""
    return {
        "external_reference": reference,
        "title": title,
        "description": "<p>From spreadsheets to pandas.</p>",
        "languages": [{"value": "en_GB", "source_value": "en-GB"}, {"value": "unmapped_value", "source_value": "rm"}],
        "cover_url": "https://cdn.example.com/python.png",
        "url": "https://learn.example.com/python",
        "active": True,
        "duration": "PT1H30M",
        "categories": [{"id": "cat-1", "name": "Data", "hierarchy": {"value": "primary"},
                        "level": {"value": "secondary"}, "language": {"value": "en_GB"}}],
        "skills": [{"id": "sk-1", "name": "pandas", "level": {"value": "primary"}}],
        "content": [{"external_reference": "lesson-1", "title": "Reading a CSV", "description": "read_csv",
                     "content_url": "https://learn.example.com/python/1",
                     "mobile_launch_content_url": "https://m.learn.example.com/python/1", "order": 1}],
        "localizations": [{"title": "Python für Analysten", "description": "Von Tabellen zu pandas",
                           "languages": [{"value": "de_DE", "source_value": "de"}]}],
        "unified_custom_fields": {"catalog": "main"},
    }


def test_seed_batch_is_accepted_with_202(stackone, sandbox):
    answer = stackone.post(BATCH, json={"items": [seed_item("course-1"), seed_item("course-2", "SQL basics")]})

    assert answer.status_code == 202
    body = answer.json()
    assert (body["statusCode"], body["message"], body["errors"]) == (202, "Batch operation accepted", [[], []])
    assert body["timestamp"].endswith("Z")
    state = vendor_state(sandbox, "stackone")
    assert state["created_per_key"] == {"course-1": 1, "course-2": 1}
    assert state["courses"][0]["body"] == seed_item("course-1")


def test_every_field_but_the_key_and_title_is_optional_and_nullable(stackone, sandbox):
    nulls = {name: None for name in seed_item()} | {"external_reference": "course-1", "title": "Python"}

    answer = stackone.post(BATCH, json={"items": [nulls]})

    assert answer.status_code == 202
    assert answer.json()["errors"] == [[]]
    assert len(vendor_state(sandbox, "stackone")["courses"]) == 1


@pytest.mark.parametrize(("item", "missing"), [
    ({}, ["external_reference", "title"]),
    ({"external_reference": "course-1", "active": False}, ["title"]),
    ({"title": "No key"}, ["external_reference"]),
], ids=["empty", "deactivation only", "no key"])
def test_an_incomplete_item_is_refused_with_missing_field_and_not_merged(stackone, sandbox, item, missing):
    stackone.post(BATCH, json={"items": [seed_item("course-1")]})

    answer = stackone.post(BATCH, json={"items": [item]})

    assert answer.status_code == 202
    assert answer.json()["errors"] == [[f"Missing field: {name}" for name in missing]]
    (course,) = vendor_state(sandbox, "stackone")["courses"]
    assert course["body"] == seed_item("course-1")  # the partial item was not merged in


@pytest.mark.parametrize("value", ["eu_ES", "gl_ES", "cy_GB", "fil_PH", "xx_YY", "bs_ME"])
def test_a_locale_outside_the_list_is_refused(stackone, sandbox, value):
    item = {**seed_item("bad"), "languages": [{"value": value, "source_value": value}]}

    answer = stackone.post(BATCH, json={"items": [seed_item("good"), item]})

    errors = answer.json()["errors"]
    assert errors[0] == [] and errors[1] and "languages" in errors[1][0]
    assert vendor_state(sandbox, "stackone")["created_per_key"] == {"good": 1}


@pytest.mark.parametrize("value", ["en_GB", "de_CH", "bs-ME", "ar_AR", "unmapped_value", None])
def test_every_listed_locale_and_unmapped_value_is_accepted(stackone, value):
    item = {**seed_item(), "languages": [{"value": value, "source_value": "eu"}]}

    assert stackone.post(BATCH, json={"items": [item]}).json()["errors"] == [[]]


def test_custom_fields_outside_the_project_are_refused_when_the_sandbox_knows_them(make_sandbox, connect):
    server = make_sandbox(stackone_custom_fields=("catalog",))
    api = connect(server, "stackone")
    other = {**seed_item("course-2"), "unified_custom_fields": {"catalog": "main", "published_on": "2024-01-01"}}

    errors = api.post(BATCH, json={"items": [seed_item("course-1"), other]}).json()["errors"]

    assert errors[0] == []
    assert errors[1] == ["Unknown custom field: published_on (not a custom unified field of this project)"]
    assert vendor_state(server, "stackone")["created_per_key"] == {"course-1": 1}


def test_any_custom_field_is_accepted_when_the_sandbox_is_not_told_the_project_s(stackone):
    item = {**seed_item(), "unified_custom_fields": {"anything": "x"}}

    assert stackone.post(BATCH, json={"items": [item]}).json()["errors"] == [[]]


def test_accepted_items_land_after_the_processing_time(make_sandbox, connect):
    clock = FakeClock()
    server = make_sandbox(stackone_processing_seconds=5.0, clock=clock)
    api = connect(server, "stackone")

    assert api.post(BATCH, json={"items": [seed_item("course-1")]}).json()["errors"] == [[]]
    assert api.get(COURSES, params={"filter[external_reference]": "course-1"}).json()["data"] == []
    clock.advance(5.0)
    found = api.get(COURSES, params={"filter[external_reference]": "course-1"}).json()["data"]

    assert [c["title"] for c in found] == ["Python for Analysts"]


@pytest.mark.parametrize("status", [404, 410])
def test_a_retired_course_batch_answers_its_status_and_takes_nothing(make_sandbox, connect, status):
    server = make_sandbox(stackone_course_batch_status=status)
    api = connect(server, "stackone")

    answer = api.post(BATCH, json={"items": [seed_item()]})

    assert answer.status_code == status
    assert set(answer.json()) == {"statusCode", "message", "timestamp"}
    assert vendor_state(server, "stackone")["courses"] == []


def test_content_batch_upserts_content_items(stackone, sandbox):
    content = {"external_reference": "course-1", "title": "Python", "content_url": "https://learn.example.com/p",
               "content_type": {"value": "video"}, "languages": [{"value": "en_GB", "source_value": "en-GB"}],
               "active": True, "order": 1, "tags": ["data"]}

    answer = stackone.post("/unified/lms/content/batch", json={"items": [content, {**content, "content": []}]})

    assert answer.status_code == 202
    errors = answer.json()["errors"]
    assert errors[0] == [] and errors[1]  # content items have no content[]
    (record,) = vendor_state(sandbox, "stackone")["courses"]
    assert record["kind"] == "content" and record["body"] == content


@pytest.mark.parametrize(("field", "value"), [
    ("languages", [{"value": "en-GB"}]),
    ("languages", [{"value": "english"}]),
    ("languages", "en_GB"),
    ("active", "yes"),
    ("duration", "90 minutes"),
    ("duration", "P"),
    ("cover_url", "/images/cover.png"),
    ("title", 42),
    ("external_reference", ""),
    ("categories", [{"name": "Data", "level": {"value": "expert"}}]),
    ("content", [{"title": "x", "order": "first"}]),
    ("unified_custom_fields", ["a"]),
    ("unknown_field", "x"),
], ids=str)
def test_invalid_item_gets_its_own_errors_and_is_not_stored(stackone, sandbox, field, value):
    answer = stackone.post(BATCH, json={"items": [seed_item("good"), {**seed_item("bad"), field: value}]})

    assert answer.status_code == 202
    errors = answer.json()["errors"]
    assert errors[0] == []
    assert errors[1] and any(field in message for message in errors[1])
    assert vendor_state(sandbox, "stackone")["created_per_key"] == {"good": 1}


@pytest.mark.parametrize("body", [{}, {"items": "course-1"}, {"items": []}, {"items": [seed_item()], "extra": 1},
                                  {"items": [seed_item(f"c-{n}") for n in range(101)]}, [seed_item()]], ids=str)
def test_malformed_batch_is_400(stackone, sandbox, body):
    answer = stackone.post(BATCH, json=body)

    assert answer.status_code == 400
    assert set(answer.json()) == {"statusCode", "message", "timestamp"}
    assert answer.json()["statusCode"] == 400
    assert vendor_state(sandbox, "stackone")["courses"] == []


def test_body_that_is_not_json_is_400(stackone):
    answer = stackone.post(BATCH, data="{items", headers={"Content-Type": "application/json"})

    assert answer.status_code == 400
    assert answer.json()["statusCode"] == 400


@pytest.mark.parametrize(("auth", "headers", "status"), [
    (None, {}, 401),
    (("wrong-key", ""), {}, 401),
    ((SANDBOX_TOKENS["stackone_api_key"], "not-empty"), {}, 401),
    (None, {"Authorization": f"Bearer {SANDBOX_TOKENS['stackone_api_key']}"}, 401),
    ((SANDBOX_TOKENS["stackone_api_key"], ""), {"x-account-id": None}, 400),
    ((SANDBOX_TOKENS["stackone_api_key"], ""), {"x-account-id": "someone-else"}, 404),
], ids=["no auth", "wrong key", "password set", "bearer", "no account header", "unknown account"])
def test_bad_auth_or_account_is_refused(stackone, sandbox, auth, headers, status):
    sent_headers = {"x-account-id": SANDBOX_TOKENS["stackone_account_id"], **headers}
    answer = requests.post(stackone.url(BATCH), json={"items": [seed_item()]}, auth=auth,
                           headers={k: v for k, v in sent_headers.items() if v is not None}, timeout=10)

    assert answer.status_code == status
    body = answer.json()
    assert body["statusCode"] == status and body["message"] and body["timestamp"]
    assert vendor_state(sandbox, "stackone")["courses"] == []


def test_resent_batch_upserts_by_external_reference(stackone, sandbox):
    stackone.post(BATCH, json={"items": [seed_item("course-1", "Old title")]})
    again = stackone.post(BATCH, json={"items": [seed_item("course-1", "New title")]})

    assert again.json()["errors"] == [[]]
    state = vendor_state(sandbox, "stackone")
    assert state["created_per_key"] == {"course-1": 1}
    assert state["duplicates"] == 0
    assert [c["body"]["title"] for c in state["courses"]] == ["New title"]


def test_put_upserts_one_course(stackone, sandbox):
    first = stackone.put(COURSES, json=seed_item("course-1", "Old title"))
    second = stackone.put(COURSES, json=seed_item("course-1", "New title"))

    assert first.status_code == second.status_code == 201
    data = first.json()["data"]
    assert data["external_reference"] == "course-1" and data["id"] and data["remote_id"]
    assert second.json()["data"]["id"] == data["id"]
    state = vendor_state(sandbox, "stackone")
    assert state["created_per_key"] == {"course-1": 1}
    assert state["courses"][0]["body"]["title"] == "New title"


@pytest.mark.parametrize("item", [{"title": "No reference"}, {**seed_item(), "active": "yes"}], ids=str)
def test_put_refuses_an_item_without_reference_or_invalid(stackone, sandbox, item):
    answer = stackone.put(COURSES, json=item)

    assert answer.status_code == 400
    assert answer.json()["statusCode"] == 400
    assert vendor_state(sandbox, "stackone")["courses"] == []


def test_list_filters_by_external_reference(stackone):
    stackone.post(BATCH, json={"items": [seed_item("course-1"), seed_item("course-2", "SQL basics")]})

    everything = stackone.get(COURSES).json()
    one = stackone.get(COURSES, params={"filter[external_reference]": "course-2"}).json()
    none = stackone.get(COURSES, params={"filter[external_reference]": "course-9"}).json()

    assert [c["external_reference"] for c in everything["data"]] == ["course-1", "course-2"]
    assert [(c["external_reference"], c["title"]) for c in one["data"]] == [("course-2", "SQL basics")]
    assert one["next"] is None
    assert none["data"] == []


def test_rate_limit_answers_429_at_the_11th_request_in_a_second(stackone, sandbox):
    statuses = [stackone.get(COURSES).status_code for _ in range(10)]
    refused = stackone.get(COURSES)

    assert statuses == [200] * 10
    assert refused.status_code == 429
    assert refused.json()["statusCode"] == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert vendor_state(sandbox, "stackone")["counters"]["throttled"] == 1
