"""Injected faults: 500s, 429s, connection resets, slow answers, latency; seeded and repeatable."""

from __future__ import annotations

import time

import pytest
import requests

from course_pipeline.sandbox import FaultConfig, SandboxConfig

from .conftest import vendor_state
from .test_highlevel import IMPORT, seed_payload
from .test_kombo import BULK, completed, course_item
from .test_stackone import BATCH, seed_item
from .test_thought_industries import COURSES, seed_course

# One creating request per vendor: (path, JSON body, key it creates).
CREATES = {
    "highlevel": (IMPORT, seed_payload(), "Python for Analysts"),
    "kombo": (BULK, {"items": [course_item("course-1")]}, "course-1"),
    "stackone": (BATCH, {"items": [seed_item("course-1")]}, "course-1"),
    "thought_industries": (COURSES, seed_course("course-1"), "course-1"),
}
# What each vendor's error body looks like, to recognise an injected error as the vendor's own.
ERROR_SHAPES = {
    "highlevel": lambda body, status: body == {"statusCode": status, "message": body["message"]},
    "kombo": lambda body, status: body["status"] == "error" and set(body["error"]) == {"code", "title", "message",
                                                                                          "log_url"},
    "stackone": lambda body, status: set(body) == {"statusCode", "message", "timestamp"} and body["statusCode"] == status,
    # A 429 has its own documented body (developer.thoughtindustries.com/docs/rest/rate-limits/).
    "thought_industries": lambda body, status: set(body) == {"error", "message", "retryAfter"} if status == 429
    else set(body) == {"error", "message", "code", "statusCode"} and body["statusCode"] == status,
}


def create(api, vendor: str, **kwargs) -> requests.Response:
    path, body, _ = CREATES[vendor]
    return api.post(path, json=body, **kwargs)


def created_keys(server, vendor: str) -> dict:
    return vendor_state(server, vendor)["created_per_key"]


@pytest.mark.parametrize("vendor", CREATES)
@pytest.mark.parametrize(("setting", "status"), [("error_500_rate", 500), ("error_429_rate", 429)])
def test_injected_error_is_the_vendors_own_and_processes_nothing(sandbox, connect, vendor, setting, status):
    sandbox.set_faults(vendor, **{setting: 1.0})

    answer = create(connect(sandbox, vendor), vendor)

    assert answer.status_code == status
    assert ERROR_SHAPES[vendor](answer.json(), status)
    if status == 429:  # HighLevel documents no Retry-After (sandbox/highlevel.py)
        assert answer.headers.get("Retry-After") == (None if vendor == "highlevel" else "1")
    state = vendor_state(sandbox, vendor)
    assert state["created_per_key"] == {}
    assert state["counters"]["faults"] == {"500": 0, "429": 0, "reset": 0, "slow": 0, str(status): 1}
    assert state["counters"]["throttled"] == 0


def test_injected_errors_keep_the_rate_limit_headers(sandbox, highlevel):
    sandbox.set_faults("highlevel", error_500_rate=1.0)

    answer = create(highlevel, "highlevel")

    assert answer.status_code == 500
    assert answer.headers["X-RateLimit-Remaining"] == "99"


@pytest.mark.parametrize("vendor", CREATES)
def test_reset_comes_after_processing(sandbox, connect, vendor):
    sandbox.set_faults(vendor, reset_rate=1.0)
    api = connect(sandbox, vendor)

    with pytest.raises(requests.ConnectionError) as raised:
        create(api, vendor)

    assert "reset" in str(raised.value).lower()
    sandbox.set_faults(vendor)  # no more faults, to look at the outcome
    if vendor == "kombo":
        task_id = api.post(BULK, json=CREATES["kombo"][1]).json()["data"]["task_id"]  # idempotent: same task
        completed(api, task_id)
    assert created_keys(sandbox, vendor) == {CREATES[vendor][2]: 1}
    assert vendor_state(sandbox, vendor)["counters"]["faults"]["reset"] == 1


def test_slow_answer_processed_before_the_delay_leaves_the_course(sandbox, ti):
    sandbox.set_faults("thought_industries", slow_rate=1.0, slow_seconds=0.6, slow_processed_rate=1.0)

    with pytest.raises(requests.ReadTimeout):
        create(ti, "thought_industries", timeout=0.2)

    assert created_keys(sandbox, "thought_industries") == {"course-1": 1}
    assert vendor_state(sandbox, "thought_industries")["counters"]["faults"]["slow"] == 1


def test_slow_answer_not_processed_when_the_client_gave_up(sandbox, ti):
    sandbox.set_faults("thought_industries", slow_rate=1.0, slow_seconds=0.4, slow_processed_rate=0.0)

    with pytest.raises(requests.ReadTimeout):
        create(ti, "thought_industries", timeout=0.1)
    time.sleep(0.5)

    assert created_keys(sandbox, "thought_industries") == {}


@pytest.mark.parametrize("processed_rate", [0.0, 1.0])
def test_slow_answer_reaches_a_patient_client(sandbox, ti, processed_rate):
    sandbox.set_faults("thought_industries", slow_rate=1.0, slow_seconds=0.3, slow_processed_rate=processed_rate)
    started = time.monotonic()

    answer = create(ti, "thought_industries", timeout=5)

    assert answer.status_code == 201
    assert time.monotonic() - started >= 0.3
    assert created_keys(sandbox, "thought_industries") == {"course-1": 1}


def test_latency_delays_every_answer(sandbox, stackone):
    sandbox.set_faults("stackone", latency_ms=150)
    started = time.monotonic()

    answers = [stackone.get("/unified/lms/courses") for _ in range(2)]

    assert [a.status_code for a in answers] == [200, 200]
    assert time.monotonic() - started >= 0.3


def statuses(api, count: int) -> list[int]:
    return [api.get("/lms/courses").status_code for _ in range(count)]


def test_a_seed_makes_a_run_repeatable(sandbox, kombo):
    sandbox.set_faults("kombo", error_500_rate=0.3, error_429_rate=0.2, seed=42)
    first = statuses(kombo, 30)
    sandbox.set_faults("kombo", error_500_rate=0.3, error_429_rate=0.2, seed=42)
    again = statuses(kombo, 30)
    sandbox.set_faults("kombo", error_500_rate=0.3, error_429_rate=0.2, seed=7)
    other_seed = statuses(kombo, 30)

    assert first == again
    assert first != other_seed
    assert {200, 429, 500} == set(first)


def test_fault_shares_are_honoured(sandbox, kombo):
    sandbox.set_faults("kombo", error_500_rate=0.25, error_429_rate=0.25, seed=3)

    seen = statuses(kombo, 200)

    assert 30 <= seen.count(500) <= 70
    assert 30 <= seen.count(429) <= 70
    faults = vendor_state(sandbox, "kombo")["counters"]["faults"]
    assert (faults["500"], faults["429"]) == (seen.count(500), seen.count(429))


def test_a_script_gives_the_next_requests_their_faults_in_order(sandbox, kombo):
    sandbox.set_faults("kombo", script=["429", "none", "500"])

    assert statuses(kombo, 4) == [429, 200, 500, 200]  # then the rates (none here)
    assert vendor_state(sandbox, "kombo")["faults"]["script"] == ["429", "none", "500"]


def test_faults_set_at_start_come_back_after_reset(make_sandbox, connect):
    server = make_sandbox(SandboxConfig(faults={"stackone": {"error_500_rate": 1.0}}))
    api = connect(server, "stackone")

    at_start = api.get("/unified/lms/courses").status_code
    server.set_faults("stackone")
    cleared = api.get("/unified/lms/courses").status_code
    server.reset()
    after_reset = api.get("/unified/lms/courses").status_code

    assert (at_start, cleared, after_reset) == (500, 200, 500)
    assert server.state()["vendors"]["stackone"]["faults"]["error_500_rate"] == 1.0


def test_faults_of_one_vendor_leave_the_others_alone(sandbox, connect):
    sandbox.set_faults("kombo", error_500_rate=1.0)

    assert connect(sandbox, "stackone").get("/unified/lms/courses").status_code == 200
    assert connect(sandbox, "kombo").get("/lms/courses").status_code == 500


@pytest.mark.parametrize("body", [
    {"nosuchvendor": {"error_500_rate": 0.1}},
    {"kombo": {"error_500_rate": 1.5}},
    {"kombo": {"error_500_rate": 0.6, "reset_rate": 0.6}},
    {"kombo": {"flakiness": 0.1}},
    {"kombo": {"latency_ms": -1}},
    {"kombo": {"seed": "abc"}},
    {"kombo": {"script": ["timeout"]}},
    {"kombo": {"script": "429"}},
    ["kombo"],
], ids=str)
def test_fault_settings_are_checked(sandbox, body):
    answer = requests.post(f"{sandbox.url}/_sandbox/faults", json=body, timeout=10)

    assert answer.status_code == 400
    assert answer.json()["error"]
    assert vendor_state(sandbox, "kombo")["faults"] == FaultConfig().to_dict()


def test_fault_config_refuses_impossible_shares():
    with pytest.raises(ValueError):
        FaultConfig(error_500_rate=0.7, slow_rate=0.7)
    with pytest.raises(ValueError):
        SandboxConfig(faults={"moodle": FaultConfig()})
