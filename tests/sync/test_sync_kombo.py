"""Kombo through the sync door: Kombo answers a body it has seen with its old task (the seed), so every
send that needs a new result goes out different, and a repeat of a lost answer goes out the same; a task
FAILED as a whole, an LMS that cannot update, warnings."""

from __future__ import annotations

import pytest
from fake_clock import FakeClock
from sync_support import FAST, sync

from course_pipeline.sandbox import SandboxConfig, SandboxServer

KOMBO = ("kombo",)


@pytest.fixture
def sandbox(request):
    """The sync tests' sandbox, with this test's settings (indirect parametrization) on top; `fake_clock`:
    the sandbox reads a FakeClock the test moves (its Kombo tasks complete only then)."""
    settings = {**FAST, **getattr(request, "param", {})}
    if settings.pop("fake_clock", False):
        settings["clock"] = FakeClock()
    with SandboxServer(SandboxConfig(**settings)) as server:
        yield server


def kombo_state(env) -> dict:
    return env.state()["vendors"]["kombo"]


def course(env, origin_id: str) -> dict:
    return next(c for c in kombo_state(env)["courses"] if c["external_key"] == origin_id)


def test_a_course_removed_and_re_added_ends_active(catalog, env, instance, ledger):
    catalog.n = 1  # the reproduction: one course, created, removed, re-added
    assert sync(catalog, instance, vendors=KOMBO)["kombo"].counts["created"] == 1
    catalog.dropped = {"C000"}
    removed = sync(catalog, instance, vendors=KOMBO, allow_deactivations=1)["kombo"]
    assert removed.counts["deactivated"] == 1 and course(env, "C000")["active"] is False
    catalog.dropped = set()

    back = sync(catalog, instance, vendors=KOMBO)["kombo"]

    assert back.counts["updated"] == 1
    assert course(env, "C000")["active"] is True
    assert course(env, "C000")["body"]["course_url"] == "https://learn.example.com/c/0#resend-1"
    assert kombo_state(env)["tasks"]["total"] == 2  # a new task, not the create's
    assert kombo_state(env)["created_per_key"] == {"C000": 1}


def test_content_changed_back_to_an_earlier_version_lands(catalog, env, instance, ledger):
    catalog.n = 1  # one course: each run's body is that course alone
    sync(catalog, instance, vendors=KOMBO)
    catalog.changed = {"C000": "A new title"}
    sync(catalog, instance, vendors=KOMBO)
    catalog.changed = {}  # back to the first version: the first run's body would get the first run's task

    back = sync(catalog, instance, vendors=KOMBO)["kombo"]

    assert back.counts["updated"] == 1
    assert course(env, "C000")["body"]["title"] == "Course 0"
    assert kombo_state(env)["tasks"]["total"] == 3


def test_a_task_failed_as_a_whole_fails_its_items_and_the_next_run_processes_them(catalog, env, instance, ledger):
    catalog.n = 12
    env.set_faults("kombo", task_failed_rate=1.0)
    first = sync(catalog, instance, vendors=KOMBO)["kombo"]
    assert first.counts["failed"] == 12
    assert set(first.outcomes["error_code"]) == {"INTEGRATION.AUTHENTICATION_INVALID"}
    assert first.outcomes["error_message"].str.contains("failed: The credentials").all()
    assert kombo_state(env)["courses"] == []
    env.set_faults("kombo")

    again = sync(catalog, instance, vendors=KOMBO)["kombo"]  # the same bodies would get the failed tasks back

    assert again.counts["created"] == 12 and again.counts["failed"] == 0
    assert set(kombo_state(env)["created_per_key"].values()) == {1}
    assert {s.status for s in ledger.states("kombo", again.account).values()} == {"created"}


@pytest.mark.parametrize("sandbox", [{"kombo_updates_supported": False}], indirect=True)
def test_an_update_the_lms_cannot_make_is_rejected_and_not_sent_again(catalog, env, instance, ledger):
    catalog.n = 3
    sync(catalog, instance, vendors=KOMBO)
    catalog.changed = {"C001": "A new title"}

    refused = sync(catalog, instance, vendors=KOMBO)["kombo"]
    again = sync(catalog, instance, vendors=KOMBO)["kombo"]
    catalog.changed = {"C001": "Another title"}
    changed_again = sync(catalog, instance, vendors=KOMBO)["kombo"]

    row = refused.outcomes.set_index("course_id").loc["C001"]
    assert (refused.counts["rejected"], refused.counts["failed"]) == (1, 0)
    assert row["error_code"] == "LMS.COURSE_UPDATE_NOT_SUPPORTED" and "does not support updating" in row["error_message"]
    assert (again.counts["rejected"], again.counts["unchanged"], again.requests) == (1, 2, 0)  # nothing sent
    assert again.outcomes.set_index("course_id").loc["C001", "error_code"] == "REFUSED_BEFORE"
    assert changed_again.counts["rejected"] == 1 and changed_again.requests > 0  # new content is tried
    assert course(env, "C001")["body"]["title"] == "Course 1"


def test_a_lost_answer_is_repeated_with_the_same_body_and_its_warning_is_shown(catalog, env, instance, ledger,
                                                                                monkeypatch):
    monkeypatch.setenv("KOMBO_BACKOFF", "0.01")
    catalog.n = 1
    # Seed 1: the first request is processed and its connection reset, the repeat is answered.
    env.set_faults("kombo", reset_rate=0.5, seed=1)

    report = sync(catalog, instance, vendors=KOMBO)["kombo"]

    assert report.counts["created"] == 1
    assert kombo_state(env)["tasks"]["total"] == 1  # the repeat got the first request's task
    warning = "An identical request was received before"
    assert warning in report.outcomes.loc[0, "error_message"]
    logged = [entry.user_message for entry in instance.all_logs(report.run_id)]
    assert any(warning in message and "kombo task" in message for message in logged)


@pytest.mark.parametrize("sandbox", [{"fake_clock": True}], indirect=True)
def test_a_task_still_pending_at_the_deadline_is_asked_for_again_next_run(sandbox, catalog, env, instance, ledger,
                                                                          monkeypatch):
    monkeypatch.setenv("KOMBO_POLL_DEADLINE", "0.5")
    catalog.n = 2
    first = sync(catalog, instance, vendors=KOMBO)["kombo"]  # the sandbox's clock stands still: never done
    assert first.counts["unknown"] == 2 and set(first.outcomes["error_code"]) == {"TASK_TIMEOUT"}
    sandbox.config.clock.advance(60)

    second = sync(catalog, instance, vendors=KOMBO)["kombo"]

    assert second.counts["reconciled"] == 2  # landed, by the first run's task
    assert kombo_state(env)["tasks"]["total"] == 1  # the same body: the task of the first run
