"""The team's deployment, run: sync runs launched through the webserver (what the UI's Materialize button
does), queued and started by the daemon, every step a Celery task that one of two worker processes picked up,
the instance and the ledger on PostgreSQL. Read back from the instance's event log and the ledger: every run
succeeded; steps ran on both workers (dagster-celery's own "Executing steps ... in celery worker" event, and
the process each sync step tagged its run with, which belongs to that worker's process group); the vendors'
pools held across runs and workers (two sync steps of one account never overlapped, and at least one waited
for another: the pool made it wait, not a lack of workers), while different accounts (two HighLevel locations
among them) synced at once; sync_report shows every account; no account saw a 429 or a course twice."""

from __future__ import annotations

import os
import time
from collections import defaultdict

import pytest
from dagster import DagsterEventType

from course_pipeline.defs.recovery import step_worker
from course_pipeline.defs.sync_assets import sync_asset_key
from course_pipeline.ledger import Ledger

CELERY_WORKER = "Celery worker"  # dagster_celery/tasks.py: the worker's node name, on the step's engine event
SUBMITTED = "Submitting celery task for step"  # dagster_celery/core_execution_loop.py, once the slot is claimed
ENDS = (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE)


def step_spans(instance, run_id: str) -> dict[str, dict]:
    """Per step of the run: when the run's process sent it to celery, when it started and ended (in the
    worker), and the celery worker that ran it."""
    steps: dict[str, dict] = defaultdict(dict)
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or entry.step_key is None:
            continue
        step = steps[entry.step_key]
        if event.event_type == DagsterEventType.STEP_START:
            step.setdefault("start", entry.timestamp)
        elif event.event_type in ENDS:
            step["end"] = entry.timestamp
        elif event.event_type == DagsterEventType.ENGINE_EVENT:
            if CELERY_WORKER in event.engine_event_data.metadata:
                step["worker"] = event.engine_event_data.metadata[CELERY_WORKER].value
            elif (entry.message or "").startswith(SUBMITTED):
                step.setdefault("submitted", entry.timestamp)
    return dict(steps)


@pytest.mark.timeout(300)
def test_sync_runs_on_two_celery_workers_with_pools_holding_across_them(deployment, destinations):
    dagster, started = deployment.dagster, time.monotonic()
    runs = {partition: dagster.launch_run("sync_job", partition) for partition in destinations.partitions}
    statuses = {partition: dagster.wait_for_run(run_id, timeout=240) for partition, run_id in runs.items()}
    print(f"{len(runs)} celery runs of {len(destinations.all_courses)} courses: "  # a figure, not a test
          f"{time.monotonic() - started:.1f} s from launch to the last run's end")
    assert set(statuses.values()) == {"SUCCESS"}, f"{statuses}; logs in {deployment.logs}"

    with deployment.instance() as instance:
        spans = {run_id: step_spans(instance, run_id) for run_id in runs.values()}
        processes = {(run_id, key): step_worker(instance, run_id, sync_asset_key(key))
                     for run_id in runs.values() for key in destinations.accounts}
        records = {record.dagster_run.run_id: record for record in instance.get_run_records()}
        messages = [entry.message for run_id in runs.values() for entry in instance.all_logs(run_id)]

    # Every step ran in a celery worker, and both of ours took some: no other worker (the queue is the test's).
    used = {step["worker"] for steps in spans.values() for step in steps.values()}
    assert used == set(deployment.workers), used
    # Each sync step's process (as mark_worker recorded it) belongs to the worker dagster-celery says ran it.
    for run_id, steps in spans.items():
        for destination in destinations.accounts:
            key = sync_asset_key(destination)
            pid = int(processes[(run_id, destination)].rpartition(":")[2])
            assert os.getpgid(pid) == deployment.workers[steps[key]["worker"]], (run_id, key)
            assert pid != deployment.workers[steps[key]["worker"]]  # a worker's pool process, not the worker itself

    # The runs overlapped: their steps were there to collide.
    run_spans = sorted((records[r].start_time, records[r].end_time) for r in runs.values())
    assert any(later[0] < earlier[1] for earlier, later in zip(run_spans, run_spans[1:], strict=False)), run_spans

    # Two sync steps of one vendor account never overlapped; and at least one that was ready (its inputs done)
    # while another run's held the account's pool was not even sent to celery until that one had ended: the
    # pool, claimed by each run's process before it sends a step, kept them apart (not a lack of workers).
    # Steps of different accounts did run at once (one account's pool does not hold another's).
    ledger = Ledger(deployment.ledger_url)
    try:
        summaries = ledger.run_summaries(runs.values())
        state = ledger.state_frame()
    finally:
        ledger.dispose()
    assert {(row.vendor, row.account) for row in summaries.itertuples()} == {
        (vendor, account) for vendor, account, _ in destinations.accounts.values()}
    by_account: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for run_id, steps in spans.items():
        for destination, (vendor, account, _) in destinations.accounts.items():
            ready = max(steps[key]["end"] for key in ("vendor_payloads", "valid_catalog"))  # its inputs' steps
            by_account[(vendor, account)].append({**steps[sync_asset_key(destination)], "ready": ready, "run": run_id})
    held_back = 0
    for account, syncs in by_account.items():
        syncs.sort(key=lambda sync: sync["start"])
        assert len(syncs) == len(runs), account
        for earlier, later in zip(syncs, syncs[1:], strict=False):
            assert later["start"] >= earlier["end"], f"{account}: runs {earlier['run']} and {later['run']} overlapped"
            held_back += later["ready"] < earlier["end"] <= later["submitted"]
    assert held_back, "no sync step was held back by its pool: the runs did not contend, so this proved nothing"
    syncs = [(sync["start"], sync["end"], account) for account, found in by_account.items() for sync in found]
    assert any(a[2] != b[2] and a[0] < b[1] and b[0] < a[1] for a in syncs for b in syncs), \
        "no two accounts were synced at once"
    assert not [m for m in messages if m and m.startswith("waiting for ")], "a sync waited for an account lock"

    # The UI shows the outcomes per account: sync_report's table of states, as the asset page reads it.
    (report,) = dagster.query("""{ assetOrError(assetKey: {path: ["sync_report"]}) { ... on Asset {
        assetMaterializations(partitions: ["north"], limit: 1) { metadataEntries {
            label ... on MarkdownMetadataEntry { mdStr } } } } } }""")["assetOrError"]["assetMaterializations"]
    table = next(e["mdStr"] for e in report["metadataEntries"] if e["label"] == "state_by_vendor")
    for vendor, account, _ in destinations.accounts.values():
        assert account in table, (vendor, account)

    # Every course landed once at every account: in the ledger and at the sandbox, per account.
    vendors = deployment.sandbox.state()["vendors"]
    for vendor, account, in_sandbox in destinations.accounts.values():
        held = state[(state["vendor"] == vendor) & (state["account"] == account)]
        assert set(held["course_id"]) == destinations.all_courses and held["payload_hash"].notna().all(), \
            (vendor, account)
        at_vendor = vendors[vendor]["accounts"][in_sandbox]
        assert len(at_vendor["created_per_key"]) == len(destinations.all_courses), (vendor, account)
        assert set(at_vendor["created_per_key"].values()) == {1} and at_vendor["duplicates"] == 0, (vendor, account)
        assert at_vendor["throttled"] == 0, (vendor, account)  # no 429 with the limits at their tightest
