"""Helpers for the sync tests. A sync here is what `course-pipeline sync` runs: the Dagster assets of the
sync job, materialized with the definitions' own resources (the sandbox target, on a free loopback port,
with limits fast enough for a test but enforced the same way as in production: the sandbox counts, we pace).
Nothing here wires the flow itself."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pandas as pd
import yaml

from course_pipeline.catalog.sources import load_sources
from course_pipeline.defs.definitions import build_defs
from course_pipeline.defs.runner import run_sync
from course_pipeline.ledger import Ledger
from course_pipeline.vendors import CLIENTS, VENDOR_NAMES

# Limits well above what these tests send, the same on both sides, so a 429 means a real fault.
FAST = {"highlevel_rate_limit": 200, "highlevel_rate_window": 1.0, "stackone_rate_limit": 200,
        "stackone_rate_window": 1.0, "thought_industries_rate_limit": 400, "thought_industries_rate_window": 1.0,
        "thought_industries_hourly_limit": 20_000, "kombo_pending_seconds": 0.1}
FAST_ENV = {"HIGHLEVEL_RATE_LIMIT": "200/1", "STACKONE_RATE_LIMIT": "200/1", "THOUGHT_INDUSTRIES_RATE_LIMIT": "400/1",
            "THOUGHT_INDUSTRIES_HOURLY_LIMIT": "20000/3600",
            "HIGHLEVEL_BATCH_SIZE": "5", "KOMBO_BATCH_SIZE": "10", "STACKONE_BATCH_SIZE": "10",
            "KOMBO_POLL_SECONDS": "0.1"}


def course_rows(n: int, *, changed: dict[str, str] | None = None, drop: set[str] = frozenset()) -> list[list[str]]:
    rows = [["course_id", "title", "description", "course_url", "duration_minutes", "languages", "tags", "status"]]
    for i in range(n):
        cid = f"C{i:03d}"
        if cid in drop:
            continue
        title = (changed or {}).get(cid, f"Course {i}")
        rows.append([cid, title, f"<p>About course {i}</p>", f"https://learn.example.com/c/{i}", str(30 + i), "en",
                     "data, skills", "published"])
    return rows


@dataclass
class Catalog:
    """A courses-only CSV source we can change between syncs."""

    folder: Path
    n: int
    name: str = "shop"
    changed: dict[str, str] = field(default_factory=dict)
    dropped: set[str] = field(default_factory=set)

    @property
    def sources_file(self) -> Path:
        return self.folder / "sources.yaml"

    def write(self) -> Path:
        with (self.folder / "courses.csv").open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows(course_rows(self.n, changed=self.changed, drop=self.dropped))
        self.sources_file.write_text(yaml.safe_dump({"sources": [
            {"name": self.name, "format": "csv", "path": "courses.csv", "tables": {"courses": {}}}]}))
        return self.sources_file


def created(vendor: str) -> str:
    """The outcome a vendor's successful create is reported as (HighLevel's import: queued)."""
    return CLIENTS[vendor].create_outcome


def account_of(vendor: str) -> str:
    """The account the definitions' target for this vendor syncs into."""
    return build_defs(vendors=[vendor]).resources[vendor].settings().account


@dataclass
class VendorRun:
    """One vendor's part of a sync run, as the UI shows it (metadata) and the ledger records it."""

    vendor: str
    account: str
    run_id: str
    counts: dict[str, int]
    outcomes: pd.DataFrame

    @property
    def requests(self) -> int:
        return self.counts["requests"]


def sync(catalog: Catalog, instance: dg.DagsterInstance, *, vendors=VENDOR_NAMES, dry_run: bool = False,
         only_failed: bool = False, allow_deactivations: int = 0) -> dict[str, VendorRun]:
    """`course-pipeline sync` for the catalog's source (its own function, run_sync), per vendor."""
    catalog.write()
    sources = load_sources(catalog.sources_file)
    outcome = run_sync(catalog.sources_file, sources, list(vendors), instance=instance, dry_run=dry_run,
                       only_failed=only_failed, allow_deactivations=allow_deactivations)
    assert not outcome.failed_sources, outcome.failed_sources
    result = outcome.runs[catalog.name]
    ledger = Ledger()
    try:
        recorded = ledger.outcomes(run_id=result.run_id)
    finally:
        ledger.dispose()
    return {vendor: VendorRun(vendor, account_of(vendor), result.run_id, dict(outcome.totals.vendors[vendor]),
                              recorded[recorded["vendor"] == vendor].reset_index(drop=True))
            for vendor in vendors}
