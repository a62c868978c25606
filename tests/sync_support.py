"""Helpers for the sync tests, which run against the sandbox on a free loopback port, with a fresh ledger each, and limits
fast enough for a test but enforced the same way as in production (the sandbox counts, we pace)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from course_pipeline.catalog.mapping import extract_catalog
from course_pipeline.catalog.sources import load_sources
from course_pipeline.catalog.validation import ValidationResult, validate_catalog
from course_pipeline.ledger import Ledger
from course_pipeline.sandbox import SandboxServer
from course_pipeline.vendors import VENDORS
from course_pipeline.vendors.base import build_payloads
from course_pipeline.vendors.settings import make_builder, make_client, settings_from_env
from course_pipeline.vendors.sync import SyncReport, sync_vendor

# Limits well above what these tests send, the same on both sides, so a 429 means a real fault.
FAST = {"highlevel_rate_limit": 200, "highlevel_rate_window": 1.0, "stackone_rate_limit": 200,
        "stackone_rate_window": 1.0, "thought_industries_rate_limit": 400, "thought_industries_rate_window": 1.0,
        "kombo_pending_seconds": 0.1}
FAST_ENV = {"HIGHLEVEL_RATE_LIMIT": "200/1", "STACKONE_RATE_LIMIT": "200/1", "THOUGHT_INDUSTRIES_RATE_LIMIT": "400/1",
            "HIGHLEVEL_BATCH_SIZE": "5", "KOMBO_BATCH_SIZE": "10", "STACKONE_BATCH_SIZE": "10"}


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

    def write(self) -> None:
        import csv

        with (self.folder / "courses.csv").open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows(course_rows(self.n, changed=self.changed, drop=self.dropped))
        self.sources_file.write_text(yaml.safe_dump({"sources": [
            {"name": self.name, "format": "csv", "path": "courses.csv", "tables": {"courses": {}}}]}))

    def validated(self) -> ValidationResult:
        self.write()
        (source,) = load_sources(self.sources_file)
        return validate_catalog(extract_catalog(source))


def env_for(sandbox: SandboxServer, **extra: str) -> dict[str, str]:
    return {**FAST_ENV, "COURSE_PIPELINE_SANDBOX_URL": sandbox.url, **extra}


def sync_all(validated: ValidationResult, ledger: Ledger, env: dict[str, str], *, source: str = "shop",
             vendors=tuple(VENDORS), dry_run: bool = False, **client_options) -> dict[str, SyncReport]:
    settings = {name: settings_from_env(name, env) for name in vendors}
    sets = build_payloads(validated.valid, [make_builder(settings[name]) for name in vendors])
    reports = {}
    for name in vendors:
        options = client_options.get(name, {})
        client = make_client(settings[name], **options)
        try:
            _, reports[name] = sync_vendor(sets[name], client, ledger, source=source,
                                           catalog_ids=validated.catalog_course_ids, dry_run=dry_run)
        finally:
            client.close()
    return reports
