"""Outcomes say what happened at the vendor. Each case scripts the sandbox's faults for the first
requests (one worker, two attempts a request, so the order is fixed) and syncs through the door users
use: an item that landed is never `failed`/NOT_SENT, one found after a lost answer is `reconciled`
(not `created`), and a clean rerun settles every unknown with each course there once."""

from __future__ import annotations

import pytest
from sync_support import sync

QUICK = {"ATTEMPTS": "2", "BACKOFF": "0.01", "WORKERS": "1"}


@pytest.fixture
def quick(monkeypatch):
    def apply(vendor: str) -> None:
        for key, value in QUICK.items():
            monkeypatch.setenv(f"{vendor.upper()}_{key}", value)

    return apply


def held_once(env, vendor: str, n: int) -> bool:
    return env.state()["vendors"][vendor]["created_per_key"] == {f"C{i:03d}": 1 for i in range(n)}


def status_of(ledger, run, course_id: str) -> str:
    return ledger.states(run.vendor, run.account)[course_id].status


def outcome_of(run, course_id: str) -> dict:
    return run.outcomes.set_index("course_id").loc[course_id].to_dict()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("script", [
    ["reset", "429"],  # the create landed, its answer was lost; the repeat was throttled until attempts ran out
    ["reset", "none", "429", "429"],  # the repeat met DUPLICATE_SLUG; the lookup by slug was throttled
], ids=["create-then-429", "lookup-429"])
def test_thought_industries_a_landed_create_is_never_not_sent(catalog, env, instance, ledger, quick, script):
    quick("thought_industries")
    env.set_faults("thought_industries", script=script)
    first = sync(catalog, instance, vendors=("thought_industries",))["thought_industries"]

    assert env.state()["vendors"]["thought_industries"]["created_per_key"]["C000"] == 1  # it landed
    row = outcome_of(first, "C000")
    assert (row["status"], row["error_code"]) == ("unknown", "ANSWER_LOST"), row
    assert (first.counts["unknown"], first.counts["created"], first.counts["failed"]) == (1, 29, 0)

    again = sync(catalog, instance, vendors=("thought_industries",))["thought_industries"]
    assert (again.counts["reconciled"], again.counts["unchanged"], again.counts["created"]) == (1, 29, 0)
    assert status_of(ledger, again, "C000") == "reconciled"
    assert held_once(env, "thought_industries", 30)
    vendor_ids = {c["external_key"]: c["id"] for c in env.state()["vendors"]["thought_industries"]["courses"]}
    assert ledger.states("thought_industries", again.account)["C000"].vendor_id == vendor_ids["C000"]


@pytest.mark.timeout(120)
def test_thought_industries_a_lost_answer_found_by_lookup_is_reconciled_not_created(catalog, env, instance,
                                                                                   ledger, quick):
    quick("thought_industries")
    env.set_faults("thought_industries", script=["reset"])  # created, answer lost; the repeat finds it
    run = sync(catalog, instance, vendors=("thought_industries",))["thought_industries"]

    assert (run.counts["reconciled"], run.counts["created"]) == (1, 29)
    assert outcome_of(run, "C000")["status"] == "reconciled"
    assert status_of(ledger, run, "C000") == "reconciled"
    assert held_once(env, "thought_industries", 30)
    rerun = sync(catalog, instance, vendors=("thought_industries",))["thought_industries"]
    assert rerun.counts["unchanged"] == 30 and rerun.requests == 0  # reconciled is landed


@pytest.mark.timeout(120)
def test_kombo_a_task_it_accepted_is_never_not_sent(catalog, env, instance, ledger, quick):
    quick("kombo")
    env.set_faults("kombo", script=["none", "429", "429"])  # the task is accepted; polling it is throttled
    first = sync(catalog, instance, vendors=("kombo",))["kombo"]

    unknown = set(first.outcomes.loc[first.outcomes["status"] == "unknown", "course_id"])
    assert unknown == {f"C{i:03d}" for i in range(10)}, first.counts  # the first batch of 10
    assert first.counts["failed"] == 0
    again = sync(catalog, instance, vendors=("kombo",))["kombo"]
    assert (again.counts["reconciled"], again.counts["unchanged"]) == (10, 20)  # sent again: the same task
    assert held_once(env, "kombo", 30)


@pytest.mark.timeout(120)
def test_highlevel_throttled_imports_are_not_sent_and_lost_answers_unknown(catalog, env, instance, ledger, quick):
    """HighLevel never repeats what may have been processed, so 429s alone are NOT_SENT (true), and a
    reset is unknown at once (never followed by a repeat that could turn it into NOT_SENT)."""
    quick("highlevel")
    env.set_faults("highlevel", script=["429", "429", "reset"])  # batch 1: throttled twice; batch 2: lost
    run = sync(catalog, instance, vendors=("highlevel",))["highlevel"]

    statuses = run.outcomes.set_index("course_id")[["status", "error_code"]].apply(tuple, axis=1).to_dict()
    assert {statuses[f"C{i:03d}"] for i in range(5)} == {("failed", "NOT_SENT")}
    assert {statuses[f"C{i:03d}"] for i in range(5, 10)} == {("unknown", "ANSWER_LOST")}
    held = env.state()["vendors"]["highlevel"]["created_per_key"]
    assert not {f"Course {i}" for i in range(5)} & set(held)  # the throttled ones are not there
    assert {f"Course {i}" for i in range(5, 10)} <= set(held)  # the lost ones are


@pytest.mark.timeout(120)
def test_thought_industries_an_archive_whose_answer_was_lost_is_unknown_and_undone_when_it_comes_back(
        catalog, env, instance, ledger, quick):
    quick("thought_industries")
    sync(catalog, instance, vendors=("thought_industries",))
    catalog.dropped = {"C009"}
    env.set_faults("thought_industries", script=["reset", "500"])  # archived, answer lost; the repeat: 500
    gone = sync(catalog, instance, vendors=("thought_industries",))["thought_industries"]
    course = next(c for c in env.state()["vendors"]["thought_industries"]["courses"] if c["external_key"] == "C009")
    assert course["body"]["publishedStatus"] == "archived"
    assert (outcome_of(gone, "C009")["status"], status_of(ledger, gone, "C009")) == ("unknown", "unknown")

    catalog.dropped = set()  # back in the catalog: every field is sent, so it is published again
    back = sync(catalog, instance, vendors=("thought_industries",))["thought_industries"]
    assert back.counts["updated"] == 1 and back.requests == 1
    course = next(c for c in env.state()["vendors"]["thought_industries"]["courses"] if c["external_key"] == "C009")
    assert course["body"]["publishedStatus"] == "published"
