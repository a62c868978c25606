"""Thought Industries contract (the table in course_pipeline/sandbox/thoughtindustries.py): both create dialects,
update by id, lookup by slug, uniqueness, 60 a minute, 1,000 an hour, 5 in flight."""

from __future__ import annotations

import re
import time

import pytest
from fake_clock import FakeClock

from .conftest import vendor_state

COURSES = "/incoming/v2/courses"
BULK = "/incoming/v2/content/course/create"
BY_SLUG = "/incoming/v2/courseGroups/slug"


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
    (seed_course(), "DUPLICATE_SLUG"),
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
    assert error(ti.put(f"{COURSES}/{second['id']}", json={"slug": "first"}))[2] == "DUPLICATE_SLUG"


def test_external_id_is_no_key_and_has_no_lookup(ti, sandbox):
    # Neither DUPLICATE_EXTERNAL_ID nor GET ...?externalId= is documented: the sandbox offers neither.
    ti.post(COURSES, json=seed_course("course-1"))

    again = ti.post(COURSES, json=seed_course("course-1", "Other title", slug="other-slug"))

    assert again.status_code == 201
    assert error(ti.get(COURSES, params={"externalId": "course-1"}))[0] == 405


def test_lookup_by_slug_answers_the_course_group(ti):
    created = ti.post(COURSES, json=seed_course("course-1")).json()

    found = ti.get(f"{BY_SLUG}/{created['slug']}")

    assert found.status_code == 200
    group = found.json()["data"]["APICourseGroupBySlug"]
    assert {k: group[k] for k in ("id", "title", "slug", "kind", "status")} == \
        {"id": created["id"], "title": created["title"], "slug": created["slug"], "kind": "courseGroup",
         "status": "published"}
    assert error(ti.get(f"{BY_SLUG}/no-such-slug")) == (404, "Not Found", "NOT_FOUND")


def bulk_course(external_id: str, title: str, **fields) -> dict:
    course = {k: v for k, v in seed_course(external_id, title).items() if k != "courseType"}
    return {**course, "kind": "courseGroup", **fields}


def test_bulk_create_answers_each_course_in_request_order(ti, sandbox):
    items = [bulk_course(f"c{i}", f"Course {i}") for i in range(3)]
    items[1] = {**items[1], "kind": "book"}  # a bad one fails alone

    answer = ti.post(BULK, json={"courseAttributes": items})

    assert answer.status_code == 200
    results = answer.json()["results"]
    assert [(r["index"], r["status"]) for r in results] == [(0, "created"), (1, "failed"), (2, "created")]
    assert results[1]["error"]["code"] == "INVALID_FIELD_VALUE" and results[1]["error"]["statusCode"] == 400
    assert results[0]["course"]["kind"] == "courseGroup" and results[0]["course"]["slug"] == "course-0"
    assert "courseType" not in results[0]["course"]
    assert len(vendor_state(sandbox, "thought_industries")["courses"]) == 2


def test_bulk_create_reports_duplicates_and_missing_fields_per_course(ti):
    ti.post(BULK, json={"courseAttributes": [bulk_course("c1", "Course 1")]})

    results = ti.post(BULK, json={"courseAttributes": [
        bulk_course("c1", "Course 1"), {"title": "No kind"}, bulk_course("c2", "Course 2", courseType="course")],
    }).json()["results"]

    assert [r["error"]["code"] for r in results] == ["DUPLICATE_SLUG", "MISSING_REQUIRED_FIELD", "INVALID_FIELD_VALUE"]


@pytest.mark.parametrize(("body", "code"), [
    ({}, "MISSING_REQUIRED_FIELD"),
    ({"courseAttributes": []}, "MISSING_REQUIRED_FIELD"),
    ({"courseAttributes": [bulk_course(f"c{i}", f"Course {i}") for i in range(101)]}, "INVALID_FIELD_VALUE"),
], ids=["no array", "empty array", "101 courses"])
def test_bulk_create_takes_1_to_100_courses(ti, sandbox, body, code):
    assert error(ti.post(BULK, json=body)) == (400, "Validation Error", code)
    assert vendor_state(sandbox, "thought_industries")["courses"] == []


def test_bulk_create_of_100_is_one_request(ti, sandbox):
    answer = ti.post(BULK, json={"courseAttributes": [bulk_course(f"c{i}", f"Course {i}") for i in range(100)]})

    assert [r["status"] for r in answer.json()["results"]] == ["created"] * 100
    assert len(vendor_state(sandbox, "thought_industries")["courses"]) == 100


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "sandbox-thought-industries-key"])
def test_bad_or_missing_api_key_is_401(ti, sandbox, authorization):
    answer = ti.post(COURSES, json=seed_course(), headers={"Authorization": authorization})

    assert error(answer) == (401, "Unauthorized", "UNAUTHORIZED")
    assert vendor_state(sandbox, "thought_industries")["courses"] == []


def test_rate_limit_answers_429_at_the_61st_request_in_a_minute(ti):
    answers = [ti.get(f"{BY_SLUG}/none") for _ in range(60)]
    refused = ti.get(f"{BY_SLUG}/none")

    assert [a.status_code for a in answers] == [404] * 60
    assert [a.headers["X-RateLimit-Remaining"] for a in answers[:3]] == ["59", "58", "57"]
    assert answers[0].headers["X-RateLimit-Limit"] == "60"
    assert refused.status_code == 429
    body = refused.json()
    assert body["error"] == "rate_limit_exceeded" and body["message"]
    assert 1 <= body["retryAfter"] == int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert time.time() < int(refused.headers["X-RateLimit-Reset"]) <= time.time() + 61


def test_rate_limit_and_window_are_configurable(make_sandbox, connect):
    clock = FakeClock()
    api = connect(make_sandbox(thought_industries_rate_limit=2, thought_industries_rate_window=0.4, clock=clock),
                  "thought_industries")

    statuses = [api.get(f"{BY_SLUG}/none").status_code for _ in range(3)]
    clock.advance(0.45)

    assert statuses == [404, 404, 429]
    assert api.get(f"{BY_SLUG}/none").status_code == 404


def test_hourly_limit_holds_beside_the_minute_window(make_sandbox, connect):
    # 1,000 an hour beside 60 a minute, scaled: 3 per second and 5 per ten seconds.
    clock = FakeClock()
    api = connect(make_sandbox(thought_industries_rate_limit=3, thought_industries_rate_window=1.0,
                               thought_industries_hourly_limit=5, thought_industries_hourly_window=10.0,
                               clock=clock), "thought_industries")

    first = [api.get(f"{BY_SLUG}/none").status_code for _ in range(4)]
    clock.advance(1.1)
    second = [api.get(f"{BY_SLUG}/none").status_code for _ in range(3)]
    clock.advance(1.1)
    third = api.get(f"{BY_SLUG}/none")
    clock.advance(8.0)

    assert first == [404, 404, 404, 429]
    assert second == [404, 404, 429]  # the minute window has room; the hour's is spent
    assert third.status_code == 429 and int(third.headers["Retry-After"]) >= 7
    assert api.get(f"{BY_SLUG}/none").status_code == 404


def test_requests_past_the_concurrency_cap_are_429(make_sandbox, connect):
    import threading

    # The cap scaled from 5 to 2; each answer is held 300 ms, so four sent at once overlap.
    server = make_sandbox(thought_industries_concurrency_limit=2, faults={"thought_industries": {"latency_ms": 300}})
    apis = [connect(server, "thought_industries") for _ in range(4)]
    together = threading.Barrier(4)
    statuses: list[int] = []

    def one(api):
        together.wait()
        statuses.append(api.get(f"{BY_SLUG}/none").status_code)

    threads = [threading.Thread(target=one, args=(api,)) for api in apis]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [404, 404, 429, 429]
