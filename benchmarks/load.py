"""Load against the sandbox: requests sent versus the minimum, wall time versus the rate limit's bound,
429s received, for a first sync and for an incremental one (1% of courses changed).

The sandbox answers with 50 ms latency and enforces the same limits the clients are configured with
(the documented rates, with Thought Industries' 100/min raised so the run stays short)."""

from __future__ import annotations

import csv
import math
import os
import tempfile
from pathlib import Path

import dagster as dg
import yaml

from course_pipeline.catalog.sources import load_sources
from course_pipeline.defs.runner import run_sync
from course_pipeline.defs.sandbox_target import SandboxServer
from course_pipeline.sandbox import SandboxConfig

LATENCY_MS = 50
# vendor -> (requests, window seconds, batch size); the sandbox enforces the same numbers.
LIMITS = {"highlevel": (20, 2.0, 10), "stackone": (10, 1.0, 20), "thought_industries": (40, 2.0, 1),
          "kombo": (None, 1.0, 100)}


def _write_catalog(folder: Path, courses: int, changed: set[int]) -> Path:
    with (folder / "courses.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["course_id", "title", "description", "course_url", "duration_minutes", "languages"])
        for i in range(courses):
            title = f"Load course {i}" + (" (revised)" if i in changed else "")
            writer.writerow([f"L{i:05d}", title, "<p>About it</p>", f"https://learn.example.com/{i}", 60, "en"])
    sources = folder / "sources.yaml"
    sources.write_text(yaml.safe_dump({"sources": [{"name": "load", "format": "csv", "path": "courses.csv",
                                                    "tables": {"courses": {}}}]}))
    return sources


def _env(sandbox: SandboxServer, folder: Path) -> dict[str, str]:
    """What the run reads when it starts: the sandbox, a ledger of its own, the limits and batch sizes."""
    env = {"COURSE_PIPELINE_SANDBOX_URL": sandbox.url, "COURSE_PIPELINE_LEDGER_URL": f"sqlite:///{folder / 'ledger.db'}",
           "COURSE_PIPELINE_STATE_DIR": str(folder / "state"), "KOMBO_POLL_SECONDS": "0.3"}
    for vendor, (count, window, batch) in LIMITS.items():
        prefix = vendor.upper()
        if count:
            env[f"{prefix}_RATE_LIMIT"] = f"{count}/{window:g}"
        env[f"{prefix}_BATCH_SIZE"] = str(batch)
    return env


def _sync_once(sources_file: Path, instance: dg.DagsterInstance, sandbox: SandboxServer, phase: str) -> list[dict]:
    """One `course-pipeline sync` of the catalog (the sync job's assets, all four vendors)."""
    throttled_before = {v: sandbox.state()["vendors"][v]["counters"]["throttled"] for v in LIMITS}
    outcome = run_sync(sources_file, load_sources(sources_file), list(LIMITS), instance=instance)
    result = outcome.runs["load"]
    rows = []
    for vendor, (count, window, batch) in LIMITS.items():
        meta = {k: v.value for k, v in result.asset_materializations_for_node(f"{vendor}_sync")[-1].metadata.items()}
        counts = outcome.totals.vendors[vendor]
        sent_items = counts["created"] + counts["updated"]
        minimum = math.ceil(sent_items / batch)
        seconds = meta["duration_seconds"]
        bound = minimum / (count / window) if count else None
        rows.append({
            "phase": phase, "vendor": vendor, "items_sent": sent_items, "requests": counts["requests"],
            "minimum": minimum * (2 if vendor == "kombo" else 1),  # Kombo: a batch and at least one poll
            "seconds": round(seconds, 2), "bound_seconds": round(bound, 2) if bound else "",
            "wall_over_bound": round(seconds / bound, 3) if bound and bound > 0.5 else "",
            "throttled_429": sandbox.state()["vendors"][vendor]["counters"]["throttled"] - throttled_before[vendor],
            "failed": counts["failed"] + counts["unknown"],
        })
    return rows


def run_load(courses: int = 600, changed_share: float = 0.01) -> list[dict]:
    config = SandboxConfig(
        highlevel_rate_limit=LIMITS["highlevel"][0], highlevel_rate_window=LIMITS["highlevel"][1],
        stackone_rate_limit=LIMITS["stackone"][0], stackone_rate_window=LIMITS["stackone"][1],
        thought_industries_rate_limit=LIMITS["thought_industries"][0],
        thought_industries_rate_window=LIMITS["thought_industries"][1], kombo_pending_seconds=0.25,
        faults={v: {"latency_ms": LATENCY_MS} for v in LIMITS})
    with tempfile.TemporaryDirectory() as folder, SandboxServer(config) as sandbox, \
            dg.DagsterInstance.ephemeral() as instance:
        folder = Path(folder)
        os.environ.update(_env(sandbox, folder))  # this process is the run's: it reads them at its start
        rows = _sync_once(_write_catalog(folder, courses, set()), instance, sandbox, "first sync")
        changed = set(range(0, courses, int(1 / changed_share)))
        rows += _sync_once(_write_catalog(folder, courses, changed), instance, sandbox,
                           f"incremental ({len(changed)} changed)")
    return rows
