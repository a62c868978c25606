"""A run that died (SIGKILL, OOM, the machine rebooted) must not block the next one.

Dagster frees a step's pool slot when the step ends; a process killed mid-step never ends it, its run
stays STARTED and the slot stays claimed, and every later sync step of that vendor waits for it
forever. Dagster's run monitoring cannot see it either: the default run launcher has no health check,
and in-process runs (the CLI's) have no launcher at all. So each sync step records the process that
runs it (an engine event of the step, `course_pipeline/worker`: host:pid), and before a sync starts (the CLI's runner, and the catalog sensor on every
tick for the UI) `release_dead_runs` marks a run failed whose process on this host is gone, and frees
the slots of every run that has ended. The rerun then resumes from the ledger (what landed is not
sent again; what was in flight is reconciled), and the ledger's account lock (locks.py) keeps any
mistake here from ever letting two syncs send to one account at once.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable

import dagster as dg
from dagster._core.events import EngineEventData
from dagster._core.storage.dagster_run import FINISHED_STATUSES

WORKER = "course_pipeline/worker"  # the metadata key of the step's engine event: "host:pid" of its process


def mark_worker(context: dg.AssetExecutionContext) -> None:
    """Record which process runs this step, so a later sync can tell whether it is still alive. An event of
    the step, not a run tag: add_run_tags reads the run, merges and writes it back whole, so steps of one run
    tagging it at once from other processes (celery workers, the multiprocess executor) lose each other's tags;
    events are appended."""
    step_key = context.get_step_execution_context().step.key
    worker = f"{socket.gethostname()}:{os.getpid()}"
    context.instance.report_engine_event(f"{step_key} runs in process {worker}", context.run,
                                         EngineEventData(metadata={WORKER: dg.MetadataValue.text(worker)}),
                                         step_key=step_key)


def step_worker(instance: dg.DagsterInstance, run_id: str, step_key: str) -> str | None:
    """The process (host:pid) that mark_worker recorded for the step's latest attempt, if any."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT, ascending=False).records
    for record in records:
        entry = record.event_log_entry
        data = entry.dagster_event.engine_event_data if entry.dagster_event else None
        if entry.step_key == step_key and data is not None and WORKER in data.metadata:
            return data.metadata[WORKER].value
    return None


def _source(run: dg.DagsterRun | None) -> str:
    return (run.tags.get("source") or run.tags.get("dagster/partition") or "?") if run else "?"


def _alive(worker: str) -> bool | None:
    """True or False for a process of this host; None when it is another host's (it cannot be checked)."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def release_dead_runs(instance: dg.DagsterInstance, pools: Iterable[str]) -> list[str]:
    """Free the pool slots held by runs that ended or died; mark the dead ones failed. Returns what was
    done, one line each, for the log."""
    done = []
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return done
    for pool in pools:
        info = storage.get_concurrency_info(pool)
        holders = {slot.run_id: slot.step_key for slot in info.claimed_slots}
        holders.update({step.run_id: step.step_key for step in info.pending_steps if step.run_id not in holders})
        for run_id, step_key in holders.items():
            run = instance.get_run_by_id(run_id)
            if run is None or run.status in FINISHED_STATUSES:
                storage.free_concurrency_slots_for_run(run_id)
                done.append(f"freed the {pool} slot of run {run_id}, which had ended")
                continue
            worker = step_worker(instance, run_id, step_key)
            if worker and _alive(worker) is False:
                instance.report_run_failed(run, message=f"its process ({worker}) is gone: killed, or out of memory; "
                                                        "the next sync resumes from the ledger")
                storage.free_concurrency_slots_for_run(run_id)
                done.append(f"run {run_id} (source {_source(run)}) died with its process "
                            f"{worker}: marked failed and its {pool} slot freed")
    return done


def pool_holders(instance: dg.DagsterInstance, pools: Iterable[str], *, except_run: str | None = None) -> list[str]:
    """Who holds each pool now, as a person reads it (for a sync that is about to wait)."""
    lines = []
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return lines
    for pool in pools:
        for slot in storage.get_concurrency_info(pool).claimed_slots:
            if slot.run_id == except_run:
                continue
            run = instance.get_run_by_id(slot.run_id)
            source = _source(run)
            worker = (step_worker(instance, slot.run_id, slot.step_key) if run else None) or "an unknown process"
            lines.append(f"{pool} is in use by run {slot.run_id} (source {source}, step {slot.step_key}, "
                         f"process {worker}); waiting for it to finish")
    return lines
