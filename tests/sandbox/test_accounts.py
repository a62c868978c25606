"""Many accounts per vendor (course_pipeline/sandbox/accounts.py): each with its own courses, counters and
limits, reached as sandbox_account says, and set up through SandboxConfig.accounts."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import pytest
from fake_clock import FakeClock

from course_pipeline.sandbox import SANDBOX_TOKENS, SandboxConfig, SandboxServer, base_urls, sandbox_account
from course_pipeline.sandbox import __main__ as sandbox_main

from .conftest import VendorApi, replaced, vendor_state
from .test_highlevel import IMPORT, seed_payload
from .test_kombo import BULK, course_item, submit, task
from .test_stackone import BATCH, COURSES, seed_item
from .test_thought_industries import BY_SLUG, seed_course
from .test_thought_industries import COURSES as TI_COURSES

DEFAULT_LOCATION = SANDBOX_TOKENS["highlevel_location_id"]


@pytest.fixture
def open_account() -> Iterator[Callable[..., VendorApi]]:
    """``open_account(server, vendor, account=None)``: a client configured only from ``sandbox_account``."""
    with contextlib.ExitStack() as open_apis:
        def opening(server: SandboxServer, vendor: str, account: str | None = None) -> VendorApi:
            reach = sandbox_account(server.url, vendor, account)
            api = open_apis.enter_context(VendorApi(reach["base_url"], vendor))
            api.session.headers.pop("Authorization", None)
            api.session.auth = None
            if vendor == "stackone":
                api.session.auth = (reach["secret"], "")
            else:
                api.session.headers["Authorization"] = f"Bearer {reach['secret']}"
            header = {"kombo": "X-Integration-Id", "stackone": "x-account-id"}.get(vendor)
            if header:
                api.session.headers[header] = reach["account"]
            return api
        yield opening


def import_to(api: VendorApi, location: str, title: str = "Python for Analysts"):
    payload = replaced(replaced(seed_payload(), ("locationId",), location), ("products", 0, "title"), title)
    return api.post(IMPORT, json=payload)


def accounts(server: SandboxServer, vendor: str) -> dict:
    return vendor_state(server, vendor)["accounts"]


# HighLevel: a token per location.

def test_two_highlevel_locations_keep_their_courses_apart(sandbox, open_account):
    second = open_account(sandbox, "highlevel", "loc-2")
    default = open_account(sandbox, "highlevel")

    assert import_to(second, "loc-2").status_code == 201
    assert import_to(default, DEFAULT_LOCATION).status_code == 201
    # A token opens its own location only.
    assert import_to(second, DEFAULT_LOCATION).status_code == 403
    assert import_to(default, "loc-2").status_code == 403

    state = vendor_state(sandbox, "highlevel")
    assert state["accounts"]["loc-2"]["courses"] == 1
    assert state["accounts"][DEFAULT_LOCATION]["courses"] == 1
    assert sorted(c["location_id"] for c in state["courses"]) == sorted([DEFAULT_LOCATION, "loc-2"])
    # The same title in two locations is no duplicate: each location has its own courses.
    assert state["duplicates"] == 0 and state["created_per_key"] == {"Python for Analysts": 2}


def test_a_location_token_without_a_location_is_refused(sandbox, open_account):
    api = open_account(sandbox, "highlevel")
    answer = api.post(IMPORT, json=seed_payload(),
                      headers={"Authorization": f"Bearer {SANDBOX_TOKENS['highlevel_token']}:"})

    assert answer.status_code == 401
    assert vendor_state(sandbox, "highlevel")["courses"] == []


def test_one_throttled_location_does_not_throttle_another(make_sandbox, open_account):
    server = make_sandbox(highlevel_rate_limit=2, clock=FakeClock())  # the clock stands still: one window
    busy, calm = open_account(server, "highlevel", "loc-busy"), open_account(server, "highlevel", "loc-calm")

    statuses = [import_to(busy, "loc-busy", f"Course {n}").status_code for n in range(3)]
    calm_answer = import_to(calm, "loc-calm")

    assert statuses == [201, 201, 429]
    assert calm_answer.status_code == 201
    assert calm_answer.headers["X-RateLimit-Remaining"] == "1"
    state = vendor_state(server, "highlevel")
    assert state["accounts"]["loc-busy"]["throttled"] == 1 and state["accounts"]["loc-calm"]["throttled"] == 0
    assert state["counters"]["throttled"] == 1 and state["counters"]["requests"] == 4


# Limits of one account: SandboxConfig.accounts.

def test_an_account_override_sets_that_account_s_limits_only(make_sandbox, open_account):
    server = make_sandbox(highlevel_rate_limit=5, clock=FakeClock(),
                          accounts={"highlevel/loc-2": {"rate_limit": 2},
                                    "thought_industries/acme": {"rate_limit": 30, "rate_window": 60.0,
                                                                "hourly_limit": 500}})
    loc2, default = open_account(server, "highlevel", "loc-2"), open_account(server, "highlevel")

    assert [import_to(loc2, "loc-2", f"C{n}").status_code for n in range(3)] == [201, 201, 429]
    answer = import_to(default, DEFAULT_LOCATION)
    assert answer.status_code == 201 and answer.headers["X-RateLimit-Max"] == "5"

    acme = open_account(server, "thought_industries", "acme")
    assert acme.post(TI_COURSES, json=seed_course()).headers["X-RateLimit-Limit"] == "30"
    assert open_account(server, "thought_industries").post(
        TI_COURSES, json=seed_course()).headers["X-RateLimit-Limit"] == "60"
    limits = accounts(server, "thought_industries")["acme"]["limits"]
    assert [(limit["limit"], limit.get("window")) for limit in limits] == [(30, 60.0), (500, 3600.0), (5, None)]


def test_accounts_named_in_the_config_are_shown_from_the_start_and_after_a_reset(make_sandbox, open_account):
    server = make_sandbox(accounts={"stackone/acct-9": {"rate_limit": 3}})
    open_account(server, "stackone", "sandbox-opened-later").get(COURSES)
    assert set(accounts(server, "stackone")) == {SANDBOX_TOKENS["stackone_account_id"], "acct-9",
                                                  "sandbox-opened-later"}

    server.reset()

    held = accounts(server, "stackone")
    assert set(held) == {SANDBOX_TOKENS["stackone_account_id"], "acct-9"}
    assert held["acct-9"]["requests"] == 0 and held["acct-9"]["limits"][0]["limit"] == 3


# Thought Industries: an instance by its URL.

def test_a_second_thought_industries_instance_by_its_url(sandbox, open_account):
    default, acme = open_account(sandbox, "thought_industries"), open_account(sandbox, "thought_industries", "acme")

    assert acme.base_url == f"{sandbox.url}/ti/acme"
    # Titles and slugs are unique within an instance: the same course is new in another one.
    assert default.post(TI_COURSES, json=seed_course()).status_code == 201
    assert acme.post(TI_COURSES, json=seed_course()).status_code == 201
    assert acme.post(TI_COURSES, json=seed_course()).status_code == 422

    beta = open_account(sandbox, "thought_industries", "beta")
    assert beta.get(f"{BY_SLUG}/python-for-analysts").status_code == 404
    assert acme.get(f"{BY_SLUG}/python-for-analysts").status_code == 200
    held = accounts(sandbox, "thought_industries")
    assert (held["sandbox"]["courses"], held["acme"]["courses"], held["beta"]["courses"]) == (1, 1, 0)


def test_the_default_instance_is_also_at_its_instance_url(sandbox, open_account):
    open_account(sandbox, "thought_industries").post(TI_COURSES, json=seed_course())
    by_name = VendorApi(f"{sandbox.url}/ti/sandbox", "thought_industries")

    assert by_name.get(f"{BY_SLUG}/python-for-analysts").status_code == 200
    assert set(accounts(sandbox, "thought_industries")) == {"sandbox"}
    by_name.close()


def test_an_instance_name_that_is_no_host_name_is_404_and_takes_nothing(sandbox):
    api = VendorApi(f"{sandbox.url}/ti/Not_A_Host", "thought_industries")

    answer = api.post(TI_COURSES, json=seed_course())

    assert answer.status_code == 404 and answer.json()["code"] == "NOT_FOUND"
    assert vendor_state(sandbox, "thought_industries")["courses"] == []
    api.close()


# Kombo and StackOne: a second account by its header.

def test_a_second_kombo_integration_has_its_own_tasks_and_courses(make_sandbox, open_account):
    clock = FakeClock()
    server = make_sandbox(clock=clock, kombo_pending_seconds=1.0)
    second, default = open_account(server, "kombo", "sandbox:second"), open_account(server, "kombo")

    task_id = submit(second, {"items": [course_item("c-1")]})
    clock.advance(1.0)

    assert task(second, task_id)["status"] == "COMPLETED"
    assert default.get(f"{BULK}/{task_id}").status_code == 404
    assert [r["origin_id"] for r in second.get("/lms/courses").json()["data"]["results"]] == ["c-1"]
    assert default.get("/lms/courses").json()["data"]["results"] == []
    held = accounts(server, "kombo")
    assert held["sandbox:second"]["tasks"] == {"total": 1, "pending": 0}
    assert held[SANDBOX_TOKENS["kombo_integration_id"]]["tasks"] == {"total": 0, "pending": 0}


def test_kombo_knows_configured_and_sandbox_integrations_only(make_sandbox, open_account):
    server = make_sandbox(accounts={"kombo/personio:42": {"concurrency_limit": 3}})

    configured = open_account(server, "kombo", "personio:42").post(BULK, json={"items": [course_item("c-1")]})
    unknown = open_account(server, "kombo", "personio:43").post(BULK, json={"items": [course_item("c-1")]})

    assert configured.status_code == 200 and configured.headers["Concurrency-Limit"] == "3"
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "PLATFORM.INTEGRATION_NOT_FOUND"
    held = accounts(server, "kombo")
    assert "personio:43" not in held and held["(unknown)"]["requests"] == 1


def test_a_second_stackone_account_has_its_own_courses_and_window(make_sandbox, open_account):
    server = make_sandbox(stackone_rate_limit=1, clock=FakeClock())
    second, default = open_account(server, "stackone", "sandbox-second"), open_account(server, "stackone")

    assert second.post(BATCH, json={"items": [seed_item("course-1")]}).status_code == 202
    assert second.get(COURSES).status_code == 429  # its window of 1 is spent
    listed = default.get(COURSES)

    assert listed.status_code == 200 and listed.json()["data"] == []
    # An unknown account is refused as such, not throttled by the default's spent window.
    assert open_account(server, "stackone", "someone-else").get(COURSES).status_code == 404
    held = accounts(server, "stackone")
    assert held["(unknown)"]["requests"] == 1 and held["(unknown)"]["limits"] == []
    assert (held["sandbox-second"]["courses"], held["sandbox-second"]["throttled"]) == (1, 1)


# Inspection: per-account counters.

def test_state_counts_per_account_and_sums_them_at_the_vendor(sandbox, open_account):
    default, other = open_account(sandbox, "stackone"), open_account(sandbox, "stackone", "sandbox-other")
    sandbox.set_faults("stackone", script=["none", "500"])  # the vendor's faults, drawn in request order

    default.post(BATCH, json={"items": [seed_item("a")]})
    assert other.post(BATCH, json={"items": [seed_item("b")]}).status_code == 500
    other.post(BATCH, json={"items": [seed_item("c")]})

    state = vendor_state(sandbox, "stackone")
    mine, theirs = state["accounts"][SANDBOX_TOKENS["stackone_account_id"]], state["accounts"]["sandbox-other"]
    assert (mine["requests"], mine["courses"], mine["faults"]["500"]) == (1, 1, 0)
    assert (theirs["requests"], theirs["courses"], theirs["faults"]["500"]) == (2, 1, 1)
    assert state["counters"]["requests"] == 3 and state["counters"]["faults"]["500"] == 1
    assert sorted(state["created_per_key"]) == ["a", "c"]
    # The most requests one window held, per account.
    assert (mine["limits"][0]["peak"], theirs["limits"][0]["peak"]) == (1, 2)


# Config validation and the CLI.

@pytest.mark.parametrize(("accounts_setting", "named"), [
    ({"moodle/x": {}}, "'moodle'"),
    ({"highlevel/loc-2": {"hourly_limit": 5}}, "hourly_limit"),
    ({"kombo/sandbox:x": {"highlevel_rate_limit": 5}}, "highlevel_rate_limit"),
    ({"highlevel": {}}, "'highlevel'"),
    ({"thought_industries/Acme Inc": {}}, "'thought_industries/Acme Inc'"),
    ({"stackone/a": {"rate_limit": 0}}, "rate_limit"),
    ({"stackone/a": {"rate_window": "1s"}}, "rate_window"),
    ({"highlevel/loc-2": {"rate_limit": None}}, "rate_limit"),  # HighLevel's burst limit cannot be off
    ({"stackone/a": [1]}, "'stackone/a'"),
])
def test_a_bad_account_setting_is_a_value_error_naming_it(accounts_setting, named):
    with pytest.raises(ValueError, match=named.replace("(", r"\(")):
        SandboxConfig(accounts=accounts_setting)


def test_a_limit_that_may_be_off_may_be_off_for_one_account():
    config = SandboxConfig(accounts={"thought_industries/acme": {"hourly_limit": None}})

    assert config.limits_for("thought_industries", "acme")["hourly_limit"] is None
    assert config.limits_for("thought_industries", "other")["hourly_limit"] == 1000


def test_the_foreground_runner_takes_accounts_as_json(monkeypatch):
    started = []
    monkeypatch.setattr(sandbox_main, "serve",
                        lambda host, port, config, access_log: started.append((config, access_log)))

    sandbox_main.main(["--accounts", '{"highlevel/loc-2": {"rate_limit": 50}}'])
    sandbox_main.main(["--no-access-log"])

    assert started[0][0].accounts == {"highlevel/loc-2": {"rate_limit": 50}}
    assert [access_log for _, access_log in started] == [True, False]
    with pytest.raises(ValueError, match="rate_limt"):
        sandbox_main.main(["--accounts", '{"highlevel/loc-2": {"rate_limt": 50}}'])


# The helper for clients.

def test_sandbox_account_default_is_today_s_values():
    url = "http://127.0.0.1:8787"
    urls = base_urls(url)

    assert sandbox_account(url, "highlevel") == {"base_url": urls["highlevel"], "account": "sandbox-location-1",
                                                 "secret": SANDBOX_TOKENS["highlevel_token"]}
    assert sandbox_account(url, "kombo") == {"base_url": urls["kombo"], "account": "sandbox:kombo-integration-1",
                                             "secret": SANDBOX_TOKENS["kombo_api_key"]}
    assert sandbox_account(url, "stackone") == {"base_url": urls["stackone"],
                                                "account": "sandbox-stackone-account-1",
                                                "secret": SANDBOX_TOKENS["stackone_api_key"]}
    assert sandbox_account(url + "/", "thought_industries") == {
        "base_url": urls["thought_industries"], "account": "sandbox.thoughtindustries.local",
        "secret": SANDBOX_TOKENS["thought_industries_api_key"]}
    for vendor, default_id in (("highlevel", "sandbox-location-1"), ("kombo", "sandbox:kombo-integration-1"),
                               ("stackone", "sandbox-stackone-account-1"), ("thought_industries", "sandbox")):
        assert sandbox_account(url, vendor, default_id) == sandbox_account(url, vendor)


def test_sandbox_account_of_other_accounts():
    url = "http://127.0.0.1:8787"

    assert sandbox_account(url, "highlevel", "loc-2") == {
        "base_url": f"{url}/highlevel", "account": "loc-2", "secret": "sandbox-highlevel-token:loc-2"}
    assert sandbox_account(url, "kombo", "sandbox:two")["account"] == "sandbox:two"
    assert sandbox_account(url, "thought_industries", "acme") == {
        "base_url": f"{url}/ti/acme", "account": "acme.thoughtindustries.local",
        "secret": SANDBOX_TOKENS["thought_industries_api_key"]}
    with pytest.raises(ValueError, match="moodle"):
        sandbox_account(url, "moodle")
    with pytest.raises(ValueError, match="Acme Inc"):
        sandbox_account(url, "thought_industries", "Acme Inc")
