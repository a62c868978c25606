"""Kombo contract: asynchronous bulk upsert by origin_id, idempotent tasks, list, deactivate, concurrency."""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests
from fake_clock import FakeClock

from course_pipeline.sandbox import FaultConfig, SandboxConfig
from course_pipeline.sandbox.schemas import issues, openapi_validator, vendor_document

from .conftest import PENDING_SECONDS, VendorApi, replaced, vendor_state, without

SCHEMA = "kombo-lms-courses.openapi.json"
BULK = "/lms/courses/bulk"


def schema_issues(component: str, instance) -> list:
    return issues(openapi_validator(SCHEMA, component), instance)


def seed_example() -> dict:
    """The request example in Kombo's own spec."""
    operation = vendor_document(SCHEMA)["paths"]["/lms/courses/bulk"]["post"]
    return operation["requestBody"]["content"]["application/json"]["examples"]["example1"]["value"]


def course_item(origin_id: str, title: str = "A course", **course) -> dict:
    return {"origin_id": origin_id,
            "course": {"type": "EXTERNAL", "title": title, "course_url": f"https://learn.example.com/{origin_id}",
                       **course}}


def submit(api: VendorApi, body: dict) -> str:
    answer = api.post(BULK, json=body)
    assert answer.status_code == 200, answer.text
    assert schema_issues("PostLmsCoursesBulkPositiveResponse", answer.json()) == []
    return answer.json()["data"]["task_id"]


def task(api: VendorApi, task_id: str) -> dict:
    answer = api.get(f"{BULK}/{task_id}")
    assert answer.status_code == 200, answer.text
    assert schema_issues("GetLmsCoursesBulkTaskIdPositiveResponse", answer.json()) == []
    return answer.json()["data"]


def completed(api: VendorApi, task_id: str, timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    while (data := task(api, task_id))["status"] == "PENDING":
        assert time.monotonic() < deadline, "task stayed PENDING"
        time.sleep(0.05)
    return data


def test_seed_example_moves_from_pending_to_completed(kombo, sandbox):
    assert schema_issues("PostLmsCoursesBulkRequestBody", seed_example()) == []
    started = time.monotonic()

    task_id = submit(kombo, seed_example())
    pending = task(kombo, task_id)
    courses_while_pending = vendor_state(sandbox, "kombo")["courses"]
    done = completed(kombo, task_id)

    assert pending["status"] == "PENDING" and pending["completed_at"] is None
    assert courses_while_pending == []
    assert time.monotonic() - started >= PENDING_SECONDS
    assert done["status"] == "COMPLETED"
    assert [(r["origin_id"], r["status"]) for r in done["data"]] == [("course-1", "SUCCEEDED"), ("course-2", "SUCCEEDED")]
    state = vendor_state(sandbox, "kombo")
    assert state["created_per_key"] == {"course-1": 1, "course-2": 1}
    assert sorted(c["id"] for c in state["courses"]) == sorted(r["data"]["id"] for r in done["data"])


ITEM = ("items", 0)
COURSE = (*ITEM, "course")


@pytest.mark.parametrize("path", [
    ("items",), (*ITEM, "origin_id"), (*ITEM, "course"), (*COURSE, "type"), (*COURSE, "title"), (*COURSE, "course_url"),
], ids=lambda path: ".".join(map(str, path)))
def test_each_required_field_left_out_is_400_input_invalid(kombo, sandbox, path):
    answer = kombo.post(BULK, json=without(seed_example(), path))

    assert answer.status_code == 400
    body = answer.json()
    assert body["status"] == "error"
    assert body["error"]["code"] == "PLATFORM.INPUT_INVALID"
    assert set(body["error"]) == {"code", "title", "message", "log_url"}
    assert f"'{path[-1]}' is a required property" in body["error"]["message"]
    assert vendor_state(sandbox, "kombo")["tasks"]["total"] == 0


@pytest.mark.parametrize(("path", "value"), [
    ((*COURSE, "type"), "INTERNAL"),
    ((*COURSE, "languages"), ["english"]),
    ((*COURSE, "languages"), ["de-ch"]),
    ((*COURSE, "languages"), ["de_CH"]),
    ((*COURSE, "duration"), 0),
    ((*COURSE, "duration"), -5),
    ((*COURSE, "duration"), "45"),
    ((*COURSE, "duration"), 4.5),
    ((*COURSE, "thumbnail_url"), 5),
    ((*ITEM, "origin_id"), 17),
    (("items",), {"origin_id": "x"}),
], ids=str)
def test_wrong_enum_pattern_or_type_is_400(kombo, sandbox, path, value):
    answer = kombo.post(BULK, json=replaced(seed_example(), path, value))

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "PLATFORM.INPUT_INVALID"
    assert vendor_state(sandbox, "kombo")["tasks"]["total"] == 0


def test_nullable_fields_accept_null(kombo):
    body = {"items": [course_item("c-null", description=None, thumbnail_url=None, duration=None, languages=None)]}

    done = completed(kombo, submit(kombo, body))

    assert done["data"][0]["status"] == "SUCCEEDED"


def test_more_than_100_items_is_400(kombo):
    answer = kombo.post(BULK, json={"items": [course_item(f"c-{n}") for n in range(101)]})

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "PLATFORM.INPUT_INVALID"


def test_invalid_items_fail_alone_with_remote_input_invalid(kombo, sandbox):
    body = {"items": [course_item("good"), course_item("empty-title", title="  "),
                      {"origin_id": "bad-url", "course": {"type": "EXTERNAL", "title": "T", "course_url": "not a url"}},
                      course_item("good", title="Same origin twice")]}

    done = completed(kombo, submit(kombo, body))

    assert done["status"] == "COMPLETED"
    assert [(r["origin_id"], r["status"]) for r in done["data"]] == [
        ("good", "SUCCEEDED"), ("empty-title", "FAILED"), ("bad-url", "FAILED"), ("good", "FAILED")]
    for failed in done["data"][1:]:
        assert failed["error"]["code"] == "REMOTE.INPUT_INVALID"
        assert failed["error"]["message"]
    assert vendor_state(sandbox, "kombo")["created_per_key"] == {"good": 1}


@pytest.mark.parametrize(("headers", "status", "code"), [
    ({"Authorization": None}, 401, "PLATFORM.AUTHENTICATION_INVALID"),
    ({"Authorization": "Bearer wrong-key"}, 401, "PLATFORM.AUTHENTICATION_INVALID"),
    ({"X-Integration-Id": None}, 400, "PLATFORM.INPUT_INVALID"),
    ({"X-Integration-Id": "personio:unknown"}, 404, "PLATFORM.INTEGRATION_NOT_FOUND"),
])
def test_bad_auth_or_integration_is_refused(kombo, sandbox, headers, status, code):
    answer = kombo.post(BULK, json=seed_example(), headers=headers)

    assert answer.status_code == status
    body = answer.json()
    assert body["status"] == "error" and body["error"]["code"] == code
    assert vendor_state(sandbox, "kombo")["tasks"]["total"] == 0


def test_same_body_for_same_integration_returns_the_same_task(kombo, sandbox):
    first = kombo.post(BULK, json=seed_example()).json()
    again = kombo.post(BULK, json=seed_example()).json()
    completed(kombo, first["data"]["task_id"])
    after_completion = kombo.post(BULK, json=seed_example()).json()

    assert first["data"]["task_id"] == again["data"]["task_id"] == after_completion["data"]["task_id"]
    assert first["warnings"] == [] and again["warnings"]
    state = vendor_state(sandbox, "kombo")
    assert state["tasks"]["total"] == 1
    assert state["created_per_key"] == {"course-1": 1, "course-2": 1}
    assert len(state["courses"]) == 2


def test_a_body_is_the_same_whatever_its_key_order_and_spacing(kombo, sandbox):
    """The seed does not say how Kombo compares bodies: the sandbox compares their JSON values, the stricter
    reading, so a client cannot make a body differ by its spelling alone."""
    first = submit(kombo, {"items": [course_item("c-1")]})
    course = course_item("c-1")["course"]
    respelled = json.dumps({"items": [{"course": dict(reversed(list(course.items()))), "origin_id": "c-1"}]}, indent=2)

    again = kombo.post(BULK, data=respelled, headers={"Content-Type": "application/json"}).json()

    assert again["data"]["task_id"] == first and again["warnings"]
    assert vendor_state(sandbox, "kombo")["tasks"]["total"] == 1


def test_upsert_by_origin_id_updates_the_course(kombo, sandbox):
    first = completed(kombo, submit(kombo, {"items": [course_item("c-1", title="Old title")]}))
    second = completed(kombo, submit(kombo, {"items": [course_item("c-1", title="New title")]}))

    assert first["data"][0]["data"]["id"] == second["data"][0]["data"]["id"]
    state = vendor_state(sandbox, "kombo")
    assert state["created_per_key"] == {"c-1": 1}
    assert [c["body"]["title"] for c in state["courses"]] == ["New title"]
    listed = kombo.get("/lms/courses").json()["data"]["results"]
    assert [r["revisions"][0]["title"] for r in listed] == ["New title"]


def test_list_courses_pages_with_a_cursor(kombo):
    completed(kombo, submit(kombo, {"items": [course_item(f"c-{n}") for n in range(3)]}))

    pages, cursor = [], None
    while True:
        answer = kombo.get("/lms/courses", params={"page_size": 2, **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200
        assert schema_issues("GetLmsCoursesPositiveResponse", answer.json()) == []
        pages.append([r["origin_id"] for r in answer.json()["data"]["results"]])
        if not (cursor := answer.json()["data"]["next"]):
            break

    assert pages == [["c-0", "c-1"], ["c-2"]]


def test_list_filters_by_updated_after(kombo):
    completed(kombo, submit(kombo, {"items": [course_item("c-1")]}))

    past = kombo.get("/lms/courses", params={"updated_after": "2000-01-01T00:00:00.000Z"}).json()
    future = kombo.get("/lms/courses", params={"updated_after": "2999-01-01T00:00:00.000Z"}).json()

    assert [r["origin_id"] for r in past["data"]["results"]] == ["c-1"]
    assert future["data"]["results"] == []


@pytest.mark.parametrize("params", [{"page_size": 0}, {"page_size": 251}, {"page_size": "ten"},
                                    {"updated_after": "yesterday"}, {"include_deleted": "yes"},
                                    {"cursor": "not-a-cursor"}], ids=str)
def test_list_refuses_bad_parameters(kombo, params):
    answer = kombo.get("/lms/courses", params=params)

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "PLATFORM.INPUT_INVALID"


def test_deactivate_by_id_or_remote_id(kombo, sandbox):
    done = completed(kombo, submit(kombo, {"items": [course_item("c-1"), course_item("c-2")]}))
    first_id = done["data"][0]["data"]["id"]
    second_remote = next(c["remote_id"] for c in vendor_state(sandbox, "kombo")["courses"] if c["external_key"] == "c-2")

    by_id = kombo.post(f"/lms/courses/{first_id}/deactivate", json={})
    by_remote = kombo.post(f"/lms/courses/remote:{second_remote}/deactivate", json={})
    unknown = kombo.post("/lms/courses/no-such-course/deactivate", json={})

    for answer in (by_id, by_remote):
        assert answer.status_code == 200
        assert schema_issues("PostLmsCoursesCourseIdDeactivatePositiveResponse", answer.json()) == []
        assert answer.json()["data"]["revisions"][0]["status"] == "INACTIVE"
    assert unknown.status_code == 404
    assert all(not c["active"] for c in vendor_state(sandbox, "kombo")["courses"])


def test_task_of_unknown_id_is_404(kombo):
    answer = kombo.get(f"{BULK}/no-such-task")

    assert answer.status_code == 404
    assert answer.json()["status"] == "error"


def concurrent(server, calls) -> list[requests.Response]:
    """Run the calls at once (a barrier lines them up), each on its own connection; their answers."""
    barrier = threading.Barrier(len(calls))
    answers: list[requests.Response] = []
    lock = threading.Lock()

    def run(call) -> None:
        api = VendorApi(server.base_urls["kombo"], "kombo")
        barrier.wait()
        answer = call(api)
        with lock:
            answers.append(answer)
        api.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_31st_action_in_flight_is_429_concurrency_limit(make_sandbox):
    # Latency keeps every request in flight long enough for all 31 to overlap.
    server = make_sandbox(SandboxConfig(faults={"kombo": FaultConfig(latency_ms=1500)}))
    calls = [lambda api, n=n: api.post(BULK, json={"items": [course_item(f"c-{n}")]}) for n in range(31)]

    answers = concurrent(server, calls)

    refused = [a for a in answers if a.status_code == 429]
    assert sorted(a.status_code for a in answers) == [200] * 30 + [429]
    assert refused[0].json()["error"]["code"] == "PLATFORM.CONCURRENCY_LIMIT_EXCEEDED"
    assert refused[0].headers["Concurrency-Limit"] == "30"
    assert refused[0].headers["Concurrency-Remaining"] == "0"
    assert int(refused[0].headers["Retry-After"]) >= 1
    assert server.state()["vendors"]["kombo"]["counters"]["throttled"] == 1


def test_model_reads_and_task_polls_are_not_concurrency_limited(make_sandbox):
    """Kombo: concurrency limiting applies to actions only, not to model endpoints (concurrency-limiting guide)."""
    server = make_sandbox(SandboxConfig(kombo_concurrency_limit=1, faults={"kombo": FaultConfig(latency_ms=600)}))
    with VendorApi(server.base_urls["kombo"], "kombo") as api:
        task_id = submit(api, {"items": [course_item("c-1")]})

    reads = concurrent(server, [lambda api: api.get("/lms/courses"), lambda api: api.get("/lms/courses"),
                                lambda api: api.get(f"{BULK}/{task_id}")])
    actions = concurrent(server, [lambda api, n=n: api.post(BULK, json={"items": [course_item(f"a-{n}")]})
                                  for n in range(2)])

    assert [a.status_code for a in reads] == [200, 200, 200]
    assert not any("Concurrency-Limit" in a.headers or "Concurrency-Remaining" in a.headers for a in reads)
    assert sorted(a.status_code for a in actions) == [200, 429]


def test_every_action_answer_carries_both_concurrency_headers_and_slots_are_given_back(kombo):
    answers = [kombo.post(BULK, json={"items": [course_item(f"c-{n}")]}) for n in range(40)]
    answers.append(kombo.post("/lms/courses/no-such-course/deactivate", json={}))

    assert {a.status_code for a in answers[:-1]} == {200} and answers[-1].status_code == 404
    assert {(a.headers["Concurrency-Limit"], a.headers["Concurrency-Remaining"]) for a in answers} == {("30", "29")}


@pytest.fixture
def clocked(make_sandbox, connect):
    """Kombo in a sandbox of its own whose tasks complete when the test moves the clock (no waiting)."""
    clock = FakeClock()
    server = make_sandbox(SandboxConfig(clock=clock, kombo_pending_seconds=1.0))
    return clock, server, connect(server, "kombo")


def settle(api: VendorApi, clock: FakeClock, task_id: str) -> dict:
    assert task(api, task_id)["status"] == "PENDING"
    clock.advance(1.0)
    return task(api, task_id)


def test_a_task_failed_as_a_whole_processes_no_item_and_its_body_keeps_its_task(clocked):
    clock, server, api = clocked
    server.set_faults("kombo", task_failed_rate=1.0)
    body = {"items": [course_item("c-1"), course_item("c-2")]}

    failed = settle(api, clock, submit(api, body))
    again = api.post(BULK, json=body).json()

    assert failed["status"] == "FAILED"
    assert failed["error"]["code"] == "INTEGRATION.AUTHENTICATION_INVALID" and failed["error"]["message"]
    assert "data" not in failed and failed["completed_at"]
    assert again["data"]["task_id"] == failed["task_id"]  # the identical body: the same failed task
    assert vendor_state(server, "kombo")["courses"] == []
    server.set_faults("kombo")
    other = settle(api, clock, submit(api, {"items": [course_item("c-1", title="Another body")]}))
    assert other["status"] == "COMPLETED"


def test_task_failures_are_drawn_per_task_from_the_seed(clocked):
    clock, server, api = clocked
    outcomes = []
    for _ in range(2):
        server.set_faults("kombo", task_failed_rate=0.5, seed=4)
        ids = [submit(api, {"items": [course_item(f"r{len(outcomes)}-{n}")]}) for n in range(8)]
        clock.advance(1.0)
        outcomes.append([task(api, task_id)["status"] for task_id in ids])

    assert outcomes[0] == outcomes[1]  # the same seed, the same tasks fail
    assert set(outcomes[0]) == {"COMPLETED", "FAILED"}


def test_an_lms_that_cannot_update_fails_updates_with_course_update_not_supported(make_sandbox, connect):
    clock = FakeClock()
    server = make_sandbox(SandboxConfig(clock=clock, kombo_pending_seconds=1.0, kombo_updates_supported=False))
    api = connect(server, "kombo")

    created = settle(api, clock, submit(api, {"items": [course_item("c-1", title="First")]}))
    updated = settle(api, clock, submit(api, {"items": [course_item("c-1", title="Second"), course_item("c-2")]}))

    assert created["data"][0]["status"] == "SUCCEEDED"
    refused, new = updated["data"]
    assert refused["status"] == "FAILED" and refused["error"]["code"] == "LMS.COURSE_UPDATE_NOT_SUPPORTED"
    assert new["status"] == "SUCCEEDED"  # a create still works
    assert [c["body"]["title"] for c in vendor_state(server, "kombo")["courses"]] == ["First", "A course"]


def test_an_upsert_makes_a_deactivated_course_active_again_but_its_old_body_does_not(clocked):
    clock, server, api = clocked
    body = {"items": [course_item("c-1")]}
    first = settle(api, clock, submit(api, body))
    course_id = first["data"][0]["data"]["id"]
    assert api.post(f"/lms/courses/{course_id}/deactivate", json={}).status_code == 200

    replayed = api.post(BULK, json=body).json()  # the create's body again: its old task, nothing applied
    status_after_replay = api.get("/lms/courses").json()["data"]["results"][0]["revisions"][0]["status"]
    changed = settle(api, clock, submit(api, {"items": [course_item("c-1", course_url="https://learn.example.com/c-1#2")]}))

    assert replayed["data"]["task_id"] == first["task_id"] and replayed["warnings"]
    assert status_after_replay == "INACTIVE"
    assert changed["data"][0]["data"]["id"] == course_id
    assert api.get("/lms/courses").json()["data"]["results"][0]["revisions"][0]["status"] == "ACTIVE"


def test_optional_request_rate_limit(make_sandbox, connect):
    api = connect(make_sandbox(kombo_rate_limit=2, kombo_rate_window=1.0), "kombo")

    statuses = [api.get("/lms/courses").status_code for _ in range(3)]
    refused = api.get("/lms/courses")

    assert statuses == [200, 200, 429]
    assert refused.json()["error"]["code"] == "PLATFORM.RATE_LIMIT_EXCEEDED"
    assert "Retry-After" in refused.headers

