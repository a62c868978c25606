"""The pipeline without Dagster, for the commands that only look: extract, validate, build payloads,
and plan against the ledger (what a sync would do, sending nothing)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .catalog.mapping import extract_catalog
from .catalog.sources import SourceConfig
from .catalog.validation import ValidationResult, validate_catalog
from .ledger import Ledger
from .vendors.base import build_payloads
from .vendors.settings import make_builder, make_client, settings_from_env
from .vendors.sync import STATUSES, make_plan

COUNT_KEYS = (*STATUSES, "requests", "throttled")


def empty_counts() -> dict[str, int]:
    return dict.fromkeys(COUNT_KEYS, 0)


@dataclass
class VendorTotals:
    """Outcome counts per vendor, summed over sources."""

    vendors: dict[str, Counter] = field(default_factory=dict)

    def add(self, vendor: str, counts: dict[str, int]) -> None:
        self.vendors.setdefault(vendor, Counter(empty_counts())).update(counts)

    def as_json(self) -> dict:
        return {"vendors": {v: {k: int(c[k]) for k in COUNT_KEYS} for v, c in self.vendors.items()}}

    @property
    def failed_or_unknown(self) -> int:
        return sum(c["failed"] + c["unknown"] for c in self.vendors.values())


def plan_sources(sources: list[SourceConfig], vendors: list[str], ledger: Ledger
                 ) -> tuple[VendorTotals, list[ValidationResult]]:
    totals, results = VendorTotals(), []
    settings = {name: settings_from_env(name) for name in vendors}
    # A client only to know the vendor's account and abilities: planning sends nothing.
    clients = {name: make_client(settings[name]) for name in vendors}
    try:
        for source in sources:
            result = validate_catalog(extract_catalog(source))
            results.append(result)
            if result.table_errors:
                continue
            sets = build_payloads(result.valid, [make_builder(settings[name]) for name in vendors])
            for name, client in clients.items():
                plan = make_plan(sets[name], ledger.states(name, client.account), source=source.name,
                                 catalog_ids=set(result.catalog_course_ids), client=client)
                totals.add(name, plan.counts())
    finally:
        for client in clients.values():
            client.close()
    return totals, results
