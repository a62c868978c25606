"""Load against the sandbox: requests sent versus the minimum, wall time versus the rate limit's bound,
429s received, for a first sync and for an incremental one (1% of courses changed).

The sandbox answers with 50 ms latency and enforces the same limits the clients are configured with
(the documented rates, with Thought Industries' 100/min raised so the run stays short)."""

from __future__ import annotations

import csv
import math
import tempfile
import time
from pathlib import Path

import yaml

from course_pipeline.catalog.mapping import extract_catalog
from course_pipeline.catalog.sources import load_sources
from course_pipeline.catalog.validation import validate_catalog
from course_pipeline.ledger import Ledger
from course_pipeline.sandbox import SandboxConfig, SandboxServer
from course_pipeline.vendors.base import build_payloads
from course_pipeline.vendors.settings import make_builder, make_client, settings_from_env
from course_pipeline.vendors.sync import sync_vendor

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


def _env(sandbox: SandboxServer) -> dict[str, str]:
    env = {"COURSE_PIPELINE_SANDBOX_URL": sandbox.url}
    for vendor, (count, window, batch) in LIMITS.items():
        prefix = vendor.upper()
        if count:
            env[f"{prefix}_RATE_LIMIT"] = f"{count}/{window:g}"
        env[f"{prefix}_BATCH_SIZE"] = str(batch)
    return env


def _sync_once(sources_file: Path, ledger: Ledger, env: dict, sandbox: SandboxServer, phase: str,
               changed_items: int) -> list[dict]:
    (source,) = load_sources(sources_file)
    result = validate_catalog(extract_catalog(source))
    rows = []
    for vendor, (count, window, batch) in LIMITS.items():
        settings = settings_from_env(vendor, env)
        payloads = build_payloads(result.valid, [make_builder(settings)])[vendor]
        client = make_client(settings, **({"poll_first": 0.3} if vendor == "kombo" else {}))
        throttled_before = sandbox.state()["vendors"][vendor]["counters"]["throttled"]
        started = time.monotonic()
        try:
            _, report = sync_vendor(payloads, client, ledger, source="load", catalog_ids=result.catalog_course_ids)
        finally:
            client.close()
        seconds = time.monotonic() - started
        counts = report.counts()
        sent_items = counts["created"] + counts["updated"]
        minimum = math.ceil(sent_items / batch)
        polls = report.requests - minimum if vendor == "kombo" else 0
        bound = minimum / (count / window) if count else None
        rows.append({
            "phase": phase, "vendor": vendor, "items_sent": sent_items, "requests": report.requests,
            "minimum": minimum + (math.ceil(sent_items / batch) if vendor == "kombo" else 0),
            "kombo_polls": polls if vendor == "kombo" else "",
            "seconds": round(seconds, 2), "bound_seconds": round(bound, 2) if bound else "",
            "wall_over_bound": round(seconds / bound, 3) if bound and bound > 0.5 else "",
            "throttled_429": sandbox.state()["vendors"][vendor]["counters"]["throttled"] - throttled_before,
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
    with tempfile.TemporaryDirectory() as folder, SandboxServer(config) as sandbox:
        folder = Path(folder)
        ledger = Ledger(f"sqlite:///{folder / 'ledger.db'}")
        env = _env(sandbox)
        rows = _sync_once(_write_catalog(folder, courses, set()), ledger, env, sandbox, "first sync", courses)
        changed = set(range(0, courses, int(1 / changed_share)))
        rows += _sync_once(_write_catalog(folder, courses, changed), ledger, env, sandbox,
                           f"incremental ({len(changed)} changed)", len(changed))
        ledger.dispose()
    return rows
