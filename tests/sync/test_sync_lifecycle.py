"""A catalog's life against the sandbox: first sync, unchanged re-run, one change, one removal."""

from __future__ import annotations

from sync_support import created, sync

from course_pipeline.vendors import VENDOR_NAMES


def requests_so_far(env) -> dict[str, int]:
    return {v: data["counters"]["requests"] for v, data in env.state()["vendors"].items()}


def held(env, vendor) -> dict[str, int]:
    """external key -> how many times the vendor created it."""
    return env.state()["vendors"][vendor]["created_per_key"]


def test_first_sync_creates_everything_once_and_the_ledger_matches(catalog, env, instance, ledger):
    reports = sync(catalog, instance)
    for vendor, report in reports.items():
        counts = report.counts
        assert counts[created(vendor)] == 30 and counts["failed"] == counts["unknown"] == 0, (vendor, counts)
    state = env.state()["vendors"]
    for vendor in ("kombo", "stackone", "thought_industries"):
        assert sorted(state[vendor]["created_per_key"]) == [f"C{i:03d}" for i in range(30)]
        assert set(state[vendor]["created_per_key"].values()) == {1}, vendor
    assert set(held(env, "highlevel").values()) == {1} and len(held(env, "highlevel")) == 30
    # the ledger knows each vendor's id for what it created
    kombo_ids = {c["id"] for c in state["kombo"]["courses"]}
    assert {s.vendor_id for s in ledger.states("kombo", reports["kombo"].account).values()} == kombo_ids
    # batched: HighLevel 5 a request, StackOne 10 a request (and a lookup per item to confirm its 202),
    # Kombo 10 a request plus its polls
    assert reports["highlevel"].requests == 6 and reports["stackone"].requests == 3 + 30
    assert reports["thought_industries"].requests == 30
    assert 3 < reports["kombo"].requests <= 3 * 4


def test_unchanged_rerun_sends_no_request(catalog, env, instance, ledger):
    sync(catalog, instance)
    before = requests_so_far(env)
    reports = sync(catalog, instance)
    assert requests_so_far(env) == before
    for report in reports.values():
        assert report.counts["unchanged"] == 30 and report.requests == 0


def test_one_changed_course_is_one_update_per_vendor(catalog, env, instance, ledger):
    sync(catalog, instance)
    catalog.changed = {"C007": "Course 7, revised"}
    before = requests_so_far(env)
    reports = sync(catalog, instance)
    for vendor in ("kombo", "stackone", "thought_industries"):
        counts = reports[vendor].counts
        assert (counts["updated"], counts["unchanged"]) == (1, 29), vendor
    assert requests_so_far(env)["stackone"] - before["stackone"] == 1 + 1  # the batch and its lookup
    assert requests_so_far(env)["thought_industries"] - before["thought_industries"] == 1  # a PUT of the diff
    ti = next(c for c in env.state()["vendors"]["thought_industries"]["courses"] if c["external_key"] == "C007")
    assert ti["body"]["title"] == "Course 7, revised"
    # HighLevel cannot update an imported course; re-importing would duplicate it: nothing is sent.
    highlevel = reports["highlevel"].counts
    assert highlevel["rejected"] == 1 and highlevel["requests"] == 0
    assert requests_so_far(env)["highlevel"] == before["highlevel"]
    assert len(held(env, "highlevel")) == 30


def test_a_removed_course_is_deactivated_or_orphaned(catalog, env, instance, ledger):
    sync(catalog, instance)
    catalog.dropped = {"C003"}
    reports = sync(catalog, instance)
    for vendor in ("kombo", "stackone", "thought_industries"):
        assert reports[vendor].counts["deactivated"] == 1, vendor
    assert reports["highlevel"].counts["orphaned"] == 1
    state = env.state()["vendors"]
    gone = {v: next(c for c in state[v]["courses"] if c["external_key"] == "C003")
            for v in ("kombo", "stackone", "thought_industries")}
    assert gone["kombo"]["active"] is False
    assert gone["stackone"]["body"]["active"] is False
    assert gone["thought_industries"]["body"]["publishedStatus"] == "archived"
    # a third run does not deactivate it again
    again = sync(catalog, instance)
    assert all(r.counts["deactivated"] == 0 and r.counts["orphaned"] == 0 for r in again.values())


def test_a_rejected_row_is_not_taken_down(catalog, env, instance, ledger):
    sync(catalog, instance, vendors=("stackone",))
    catalog.changed = {"C004": ""}  # title removed: the row is rejected, but the course is still in the catalog
    report = sync(catalog, instance, vendors=("stackone",))["stackone"]
    assert report.counts["deactivated"] == 0 and report.counts["unchanged"] == 29


def test_dry_run_plans_and_sends_nothing(catalog, env, instance, ledger):
    reports = sync(catalog, instance, dry_run=True)
    assert all(report.counts[created(vendor)] == 30 and report.requests == 0 for vendor, report in reports.items())
    assert sum(requests_so_far(env).values()) == 0
    assert ledger.outcomes().empty


def test_every_outcome_keeps_its_source_row(catalog, env, instance, ledger):
    reports = sync(catalog, instance)
    outcomes = ledger.outcomes(run_id=reports["kombo"].run_id, vendor="kombo")
    row = outcomes.set_index("course_id").loc["C005"]
    assert (row["source_file"], int(row["source_row"]), row["status"]) == ("courses.csv", 7, "created")
    assert row["vendor_id"] and len(row["payload_hash"]) == 64
    assert set(VENDOR_NAMES) == set(ledger.outcomes()["vendor"])


def test_retrying_failures_sends_only_what_failed(catalog, env, instance, ledger, monkeypatch):
    """The retry_failed job's config (only_failed) through the same door."""
    # One thread and two quick attempts: the seeded faults repeat, and some batches fail for good.
    for key, value in {"STACKONE_BATCH_SIZE": "5", "STACKONE_WORKERS": "1", "STACKONE_ATTEMPTS": "2",
                       "STACKONE_BACKOFF": "0.01"}.items():
        monkeypatch.setenv(key, value)
    env.set_faults("stackone", error_500_rate=0.5, seed=3)
    first = sync(catalog, instance, vendors=("stackone",))["stackone"]
    # accepted too: a 202 whose confirming lookup got a 500 is not known to have landed
    failed = set(first.outcomes.loc[first.outcomes["status"].isin(["failed", "unknown", "accepted"]), "course_id"])
    assert failed and len(failed) < 30  # some batches got through, some did not
    env.set_faults("stackone")
    retry = sync(catalog, instance, vendors=("stackone",), only_failed=True)["stackone"]
    assert set(retry.outcomes["course_id"]) == failed  # nothing else looked at, nothing else sent
    assert retry.requests == -(-len(failed) // 5) + len(failed)  # the batches, and a lookup per item
    assert retry.counts["failed"] == 0
    assert len(env.state()["vendors"]["stackone"]["created_per_key"]) == 30


def test_a_person_resolves_unknown_and_unsupported_highlevel_items(catalog, env, instance, ledger, monkeypatch):
    monkeypatch.setenv("HIGHLEVEL_BATCH_SIZE", "30")
    env.set_faults("highlevel", reset_rate=1.0)  # processed, answer lost: all 30 unknown
    first = sync(catalog, instance, vendors=("highlevel",))["highlevel"]
    assert first.counts["unknown"] == 30 and first.requests == 1
    env.set_faults("highlevel")
    held_again = sync(catalog, instance, vendors=("highlevel",))["highlevel"]
    assert held_again.counts["unknown"] == 30 and held_again.requests == 0  # never re-sent blindly
    account = first.account
    assert ledger.resolve("highlevel", account, "C000", landed=True, vendor_id="hl-1")
    assert not ledger.resolve("highlevel", account, "C000", landed=True)  # no longer unknown
    assert ledger.resolve("highlevel", account, "C001", landed=False)
    third = sync(catalog, instance, vendors=("highlevel",))["highlevel"]
    counts = third.counts
    assert (counts["unchanged"], counts["queued"], counts["unknown"]) == (1, 1, 28)
    held = env.state()["vendors"]["highlevel"]["created_per_key"]
    assert held["Course 1"] == 2 and held["Course 0"] == 1  # the person said C001 was not there: re-imported


def test_a_course_that_comes_back_is_active_again(catalog, env, instance, ledger):
    vendors = ("kombo", "stackone", "thought_industries")
    sync(catalog, instance, vendors=vendors)
    catalog.dropped = {"C009"}
    sync(catalog, instance, vendors=vendors)
    catalog.dropped = set()
    back = sync(catalog, instance, vendors=vendors)
    for vendor in vendors:
        assert back[vendor].counts["updated"] == 1, vendor
    state = env.state()["vendors"]
    course = {v: next(c for c in state[v]["courses"] if c["external_key"] == "C009") for v in vendors}
    assert course["kombo"]["active"] is True
    assert course["stackone"]["body"]["active"] is True
    assert course["thought_industries"]["body"]["publishedStatus"] == "published"


def test_the_ledger_grows_by_what_changed_not_by_every_item_every_run(catalog, env, instance, ledger):
    sync(catalog, instance, vendors=("stackone",))
    assert len(ledger.outcomes()) == 30  # 30 created
    again = sync(catalog, instance, vendors=("stackone",))["stackone"]
    assert again.counts["unchanged"] == 30
    assert len(ledger.outcomes()) == 30  # an unchanged item writes no outcome row
    catalog.changed = {"C001": "A new title"}
    sync(catalog, instance, vendors=("stackone",))
    assert len(ledger.outcomes()) == 31
    summaries = ledger.run_summaries()  # one row per sync step, with every count
    assert [c["unchanged"] for c in summaries["counts"]] == [0, 30, 29]
    assert [c["created"] + c["updated"] for c in summaries["counts"]] == [30, 0, 1]
