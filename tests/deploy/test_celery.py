"""The team's deployment, run: sync runs launched through the webserver (what the UI's Materialize button
does), queued and started by the daemon, every step a Celery task that one of two worker processes picked up,
the instance and the ledger on PostgreSQL. Read back from the instance's event log and the ledger: every run
succeeded; steps ran on both workers (dagster-celery's own "Executing steps ... in celery worker" event, and
the process each sync step tagged its run with, which belongs to that worker's process group); the vendors'
pools held across runs and workers (two sync steps of one account never overlapped, and at least one waited
for another: the pool made it wait, not a lack of workers); no vendor saw a 429 or a course twice."""

from __future__ import annotations

import os
import time
from collections import defaultdict

import pytest
from dagster import DagsterEventType
from dagster_stack import LIMITS

from course_pipeline.defs.recovery import step_worker
from course_pipeline.defs.sync_assets import sync_asset_key
from course_pipeline.ledger import Ledger
from course_pipeline.vendors import VENDOR_NAMES

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
        processes = {(run_id, vendor): step_worker(instance, run_id, sync_asset_key(vendor))
                     for run_id in runs.values() for vendor in VENDOR_NAMES}
        records = {record.dagster_run.run_id: record for record in instance.get_run_records()}
        messages = [entry.message for run_id in runs.values() for entry in instance.all_logs(run_id)]

    # Every step ran in a celery worker, and both of ours took some: no other worker (the queue is the test's).
    used = {step["worker"] for steps in spans.values() for step in steps.values()}
    assert used == set(deployment.workers), used
    # Each sync step's process (as mark_worker recorded it) belongs to the worker dagster-celery says ran it.
    for run_id, steps in spans.items():
        for vendor in VENDOR_NAMES:
            key = sync_asset_key(vendor)
            pid = int(processes[(run_id, vendor)].rpartition(":")[2])
            assert os.getpgid(pid) == deployment.workers[steps[key]["worker"]], (run_id, key)
            assert pid != deployment.workers[steps[key]["worker"]]  # a worker's pool process, not the worker itself

    # The runs overlapped: their steps were there to collide.
    run_spans = sorted((records[r].start_time, records[r].end_time) for r in runs.values())
    assert any(later[0] < earlier[1] for earlier, later in zip(run_spans, run_spans[1:], strict=False)), run_spans

    # Two sync steps of one vendor account never overlapped; and at least one that was ready (its inputs done)
    # while another run's held the vendor's pool was not even sent to celery until that one had ended: the
    # pool, claimed by each run's process before it sends a step, kept them apart (not a lack of workers).
    ledger = Ledger(deployment.ledger_url)
    try:
        summaries = ledger.run_summaries(runs.values())
        state = ledger.state_frame()
    finally:
        ledger.dispose()
    accounts = {(row.run_id, row.vendor): row.account for row in summaries.itertuples()}
    by_account: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for run_id, steps in spans.items():
        for vendor in VENDOR_NAMES:
            ready = max(steps[key]["end"] for key in ("vendor_payloads", "valid_catalog"))  # its inputs' steps
            by_account[(vendor, accounts[(run_id, vendor)])].append(
                {**steps[sync_asset_key(vendor)], "ready": ready, "run": run_id})
    held_back = 0
    for account, syncs in by_account.items():
        syncs.sort(key=lambda sync: sync["start"])
        assert len(syncs) == len(runs), account
        for earlier, later in zip(syncs, syncs[1:], strict=False):
            assert later["start"] >= earlier["end"], f"{account}: runs {earlier['run']} and {later['run']} overlapped"
            held_back += later["ready"] < earlier["end"] <= later["submitted"]
    assert held_back, "no sync step was held back by its pool: the runs did not contend, so this proved nothing"
    assert not [m for m in messages if m and m.startswith("waiting for ")], "a sync waited for an account lock"

    # Every course landed once at every account: the ledger per account, the sandbox per vendor.
    for vendor, vendor_accounts in destinations.accounts.items():
        for account in vendor_accounts:
            held = state[(state["vendor"] == vendor) & (state["account"] == account)]
            assert set(held["course_id"]) == destinations.all_courses and held["payload_hash"].notna().all(), \
                (vendor, account)
    vendors = deployment.sandbox.state()["vendors"]
    for vendor, vendor_accounts in destinations.accounts.items():
        created = vendors[vendor]["created_per_key"]
        assert sum(created.values()) == len(destinations.all_courses) * len(vendor_accounts), vendor
        assert set(created.values()) == {1} and vendors[vendor]["duplicates"] == 0, vendor
    for vendor in LIMITS:
        assert vendors[vendor]["counters"]["throttled"] == 0, vendor  # no 429 with the limits at their tightest
