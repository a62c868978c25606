"""The initial load of 5,000 courses to Thought Industries in each dialect, with the documented limits in
force on both sides (60 requests a minute, 1,000 an hour, 5 in flight).

The bound is the documented pace for that many requests: for each window a load exceeds, requests ÷ its
rate (bulk: 50 requests, inside every window, at 60 a minute: 50 s; single: 5,000 requests, 5 hours at
1,000 an hour). Bulk runs at the real limits. Single would take 5 hours, so its windows are divided by
SINGLE_SCALE on both sides (a minute lasts 0.6 s, an hour 36 s), and its seconds are shown scaled back
(x SINGLE_SCALE) beside the unscaled bound. No added latency (scaled, 50 ms would be 5 s)."""

from __future__ import annotations

import math
import os
import tempfile
import time
from pathlib import Path

import dagster as dg

from course_pipeline.catalog.sources import load_sources
from course_pipeline.defs.runner import run_sync
from course_pipeline.defs.sandbox_target import SandboxServer
from course_pipeline.sandbox import SandboxConfig

from .load import _write_catalog

SINGLE_SCALE = 100.0
MINUTE, HOUR, CONCURRENT = (60, 60.0), (1000, 3600.0), 5


def bound_seconds(requests: int) -> float:
    """The documented pace: the slowest of the windows this many requests exceed (else the first's rate)."""
    paces = [requests / count * seconds for count, seconds in (MINUTE, HOUR) if requests > count]
    return max(paces, default=requests / MINUTE[0] * MINUTE[1])


def _one(dialect: str, courses: int) -> dict:
    scale = SINGLE_SCALE if dialect == "single" else 1.0
    minute, hour = MINUTE[1] / scale, HOUR[1] / scale
    config = SandboxConfig(thought_industries_rate_limit=MINUTE[0], thought_industries_rate_window=minute,
                           thought_industries_hourly_limit=HOUR[0], thought_industries_hourly_window=hour,
                           thought_industries_concurrency_limit=CONCURRENT)
    batch = 100 if dialect == "bulk" else 1
    with tempfile.TemporaryDirectory() as folder, SandboxServer(config) as sandbox, \
            dg.DagsterInstance.ephemeral() as instance:
        folder = Path(folder)
        os.environ.update({
            "COURSE_PIPELINE_SANDBOX_URL": sandbox.url, "COURSE_PIPELINE_LEDGER_URL": f"sqlite:///{folder / 'l.db'}",
            "COURSE_PIPELINE_STATE_DIR": str(folder / "state"), "THOUGHT_INDUSTRIES_DIALECT": dialect,
            "THOUGHT_INDUSTRIES_RATE_LIMIT": f"{MINUTE[0]}/{minute:g}",
            "THOUGHT_INDUSTRIES_HOURLY_LIMIT": f"{HOUR[0]}/{hour:g}",
            "THOUGHT_INDUSTRIES_BATCH_SIZE": str(batch)})
        sources_file = _write_catalog(folder, courses, set())
        started = time.perf_counter()
        outcome = run_sync(sources_file, load_sources(sources_file), ["thought_industries"], instance=instance)
        wall = time.perf_counter() - started
        meta = {k: v.value for k, v in
                outcome.runs["load"].asset_materializations_for_node("thought_industries_sync")[-1].metadata.items()}
        counts = outcome.totals.vendors["thought_industries"]
        vendor = sandbox.state()["vendors"]["thought_industries"]
    minimum = math.ceil(courses / batch)
    bound = bound_seconds(minimum)
    seconds = meta["duration_seconds"] * scale
    return {"dialect": dialect, "scale": f"1/{scale:g}", "courses": courses, "created": counts["created"],
            "requests": counts["requests"], "minimum": minimum, "run_seconds": round(wall, 1),
            "sync_seconds": round(seconds, 1), "bound_seconds": round(bound), "wall_over_bound": round(seconds / bound, 3),
            "throttled_429": vendor["counters"]["throttled"],
            "held_once": vendor["duplicates"] == 0 and len(vendor["courses"]) == courses}


def run_ti_load(courses: int = 5000) -> list[dict]:
    return [_one(dialect, courses) for dialect in ("bulk", "single")]


if __name__ == "__main__":
    from tabulate import tabulate

    print(tabulate(run_ti_load(), headers="keys"))
