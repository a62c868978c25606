"""Thought Industries contract: create, update by id, lookup by externalId, uniqueness, 100 requests/minute."""

from __future__ import annotations

import re
import time

import pytest
from fake_clock import FakeClock

from .conftest import vendor_state

COURSES = "/incoming/v2/courses"


def seed_course(external_id: str = "course-1", title: str = "Python for Analysts", **fields) -> dict:
    """Every field of vendor-contracts.md section 4."""
    return {
        "title": title,
        "courseType": "course",
        "slug": re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-"),
        "description": "<p>From <strong>spreadsheets</strong> to <em>pandas</em>.</p>",
        "publishedStatus": "published",
        "authors": ["Ada Example"],
        "tags": ["python", "data"],
        "externalId": external_id,
        "customFields": {},
        "isFree": True,
        "source": "catalog.csv",
        **fields,
    }


def error(answer) -> tuple[int, str, str]:
    body = answer.json()
    assert set(body) == {"error", "message", "code", "statusCode"}
    assert body["statusCode"] == answer.status_code and body["message"]
    return answer.status_code, body["error"], body["code"]


def test_seed_course_is_created_whole(ti, sandbox):
    answer = ti.post(COURSES, json=seed_course())

    assert answer.status_code == 201
    course = answer.json()
    assert re.fullmatch(r"crs_[a-z0-9]{10}", course["id"])
    assert {k: course[k] for k in seed_course()} == seed_course()
    assert course["createdAt"] == course["updatedAt"]
    state = vendor_state(sandbox, "thought_industries")
    assert state["created_per_key"] == {"course-1": 1}
    assert state["courses"][0]["id"] == course["id"]


def test_defaults_and_generated_slug(ti):
    course = ti.post(COURSES, json={"title": "  Données & SQL: 101!  ", "courseType": "video"}).json()

    assert course["title"] == "Données & SQL: 101!"
    assert course["slug"] == "donnees-sql-101"
    assert (course["publishedStatus"], course["isFree"], course["externalId"]) == ("draft", False, None)
    # Generated slugs do not clash: a second title with the same slug gets a suffix.
    assert ti.post(COURSES, json={"title": "Donnees SQL 101", "courseType": "video"}).json()["slug"] == \
        "donnees-sql-101-2"


def test_description_keeps_basic_html_and_loses_scripts(ti):
    description = ('<p onclick="x()">Hi <a href="https://x.example" target="_blank">there</a></p>'
                   '<script>alert("x")</script><h1>Title</h1><a href="javascript:alert(1)">bad</a>'
                   '<ul><li>one</li></ul><style>p{}</style><img src=x onerror=alert(1)>')

    course = ti.post(COURSES, json=seed_course(description=description)).json()

    assert course["description"] == ('<p>Hi <a href="https://x.example">there</a></p>Title<a>bad</a>'
                                     "<ul><li>one</li></ul>")


def test_tags_are_trimmed_and_case_insensitive(ti):
    first = ti.post(COURSES, json=seed_course("c-1", "One", tags=[" Python ", "python", "SQL", "  "])).json()
    second = ti.post(COURSES, json=seed_course("c-2", "Two", tags=["PYTHON", "sql "])).json()

    assert first["tags"] == ["Python", "SQL"]
    assert second["tags"] == ["Python", "SQL"]


def test_unknown_custom_fields_are_dropped_silently(make_sandbox, connect):
    api = connect(make_sandbox(thought_industries_custom_fields=("level",)), "thought_industries")

    answer = api.post(COURSES, json=seed_course(customFields={"level": "beginner", "color": "blue"}))

    assert answer.status_code == 201
    assert answer.json()["customFields"] == {"level": "beginner"}


@pytest.mark.parametrize("field", ["title", "courseType"])
@pytest.mark.parametrize("how", ["left out", "null"])
def test_required_field_missing_is_400(ti, sandbox, field, how):
    course = seed_course()
    if how == "left out":
        del course[field]
    else:
        course[field] = None

    answer = ti.post(COURSES, json=course)

    assert error(answer) == (400, "Validation Error", "MISSING_REQUIRED_FIELD")
    assert field in answer.json()["message"]
    assert vendor_state(sandbox, "thought_industries")["courses"] == []


@pytest.mark.parametrize(("field", "value"), [
    ("courseType", "ebook"),
    ("publishedStatus", "live"),
    ("slug", "Bad Slug"),
    ("slug", "-leading-hyphen"),
    ("slug", "double--hyphen"),
    ("slug", "ünïcode"),
    ("title", ""),
    ("title", "   "),
    ("title", "x" * 256),
    ("isFree", "no"),
    ("tags", "python"),
    ("authors", [1]),
    ("externalId", 5),
    ("customFields", ["a"]),
    ("id", "crs_0000000000"),
], ids=str)
def test_invalid_field_value_is_400(ti, sandbox, field, value):
    answer = ti.post(COURSES, json={**seed_course(), field: value})

    assert error(answer) == (400, "Validation Error", "INVALID_FIELD_VALUE")
    assert field in answer.json()["message"]
    assert vendor_state(sandbox, "thought_industries")["courses"] == []


def test_title_of_255_characters_is_accepted(ti):
    assert ti.post(COURSES, json=seed_course(title="x" * 255, slug="long")).status_code == 201


@pytest.mark.parametrize(("second", "code"), [
    (seed_course(), "DUPLICATE_EXTERNAL_ID"),
    (seed_course("course-2", slug="another-slug"), "DUPLICATE_TITLE"),
    (seed_course("course-2", title="python FOR analysts", slug="another-slug"), "DUPLICATE_TITLE"),
    (seed_course("course-2", title="Another title", slug="python-for-analysts"), "DUPLICATE_SLUG"),
], ids=["same course again", "same title", "same title other case", "same slug"])
def test_duplicates_are_422_and_create_nothing(ti, sandbox, second, code):
    assert ti.post(COURSES, json=seed_course()).status_code == 201

    answer = ti.post(COURSES, json=second)

    assert error(answer) == (422, "Validation Error", code)
    state = vendor_state(sandbox, "thought_industries")
    assert len(state["courses"]) == 1
    assert state["created_per_key"] == {"course-1": 1}


def test_update_by_id_changes_only_the_fields_sent(ti, sandbox):
    created = ti.post(COURSES, json=seed_course()).json()
    time.sleep(0.002)  # updatedAt has millisecond precision

    answer = ti.put(f"{COURSES}/{created['id']}", json={"title": "Python for Analysts, 2nd ed.",
                                                        "publishedStatus": "archived"})

    assert answer.status_code == 200
    updated = answer.json()
    assert updated["title"] == "Python for Analysts, 2nd ed." and updated["publishedStatus"] == "archived"
    assert {k: updated[k] for k in ("id", "slug", "externalId", "tags", "createdAt")} == \
        {k: created[k] for k in ("id", "slug", "externalId", "tags", "createdAt")}
    assert updated["updatedAt"] > created["updatedAt"]
    assert vendor_state(sandbox, "thought_industries")["courses"][0]["body"]["title"] == updated["title"]


def test_update_refuses_unknown_id_bad_values_and_clashes(ti):
    ti.post(COURSES, json=seed_course("course-1", "First"))
    second = ti.post(COURSES, json=seed_course("course-2", "Second")).json()

    assert error(ti.put(f"{COURSES}/crs_nosuchcour", json={"title": "x"})) == (404, "Not Found", "NOT_FOUND")
    assert error(ti.put(f"{COURSES}/{second['id']}", json={"courseType": "book"}))[2] == "INVALID_FIELD_VALUE"
    assert error(ti.put(f"{COURSES}/{second['id']}", json={"title": "first"}))[2] == "DUPLICATE_TITLE"
    assert error(ti.put(f"{COURSES}/{second['id']}", json={"externalId": "course-1"}))[2] == "DUPLICATE_EXTERNAL_ID"


def test_update_can_move_the_external_id(ti, sandbox):
    created = ti.post(COURSES, json=seed_course("old-id")).json()

    ti.put(f"{COURSES}/{created['id']}", json={"externalId": "new-id"})

    assert ti.get(COURSES, params={"externalId": "old-id"}).json() == {"courses": []}
    assert [c["id"] for c in ti.get(COURSES, params={"externalId": "new-id"}).json()["courses"]] == [created["id"]]
    assert vendor_state(sandbox, "thought_industries")["courses"][0]["external_key"] == "new-id"


def test_lookup_by_external_id(ti):
    created = ti.post(COURSES, json=seed_course("course-1")).json()
    ti.post(COURSES, json=seed_course("course-2", "Other"))

    found = ti.get(COURSES, params={"externalId": "course-1"})

    assert found.status_code == 200
    assert found.json() == {"courses": [created]}
    assert ti.get(COURSES, params={"externalId": "course-9"}).json() == {"courses": []}


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "sandbox-thought-industries-key"])
def test_bad_or_missing_api_key_is_401(ti, sandbox, authorization):
    answer = ti.post(COURSES, json=seed_course(), headers={"Authorization": authorization})

    assert error(answer) == (401, "Unauthorized", "UNAUTHORIZED")
    assert vendor_state(sandbox, "thought_industries")["courses"] == []


def test_rate_limit_answers_429_at_the_101st_request_in_a_minute(ti):
    answers = [ti.get(COURSES) for _ in range(100)]
    refused = ti.get(COURSES)

    assert [a.status_code for a in answers] == [200] * 100
    assert [a.headers["X-RateLimit-Remaining"] for a in answers[:3]] == ["99", "98", "97"]
    assert answers[0].headers["X-RateLimit-Limit"] == "100"
    assert error(refused) == (429, "Too Many Requests", "RATE_LIMIT_EXCEEDED")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert time.time() < int(refused.headers["X-RateLimit-Reset"]) <= time.time() + 61


def test_rate_limit_and_window_are_configurable(make_sandbox, connect):
    clock = FakeClock()
    api = connect(make_sandbox(thought_industries_rate_limit=2, thought_industries_rate_window=0.4, clock=clock),
                  "thought_industries")

    statuses = [api.get(COURSES).status_code for _ in range(3)]
    clock.advance(0.45)

    assert statuses == [200, 200, 429]
    assert api.get(COURSES).status_code == 200
