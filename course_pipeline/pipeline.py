"""THE flow, one source at a time: extract → validate → build payloads → plan → sync.

Every door calls these functions and no other wiring exists: the Dagster assets (defs/) run one step
each, the CLI's `validate` and `payloads` call them directly, and `plan` and `sync` run the assets
(`plan` as their dry run, which is the same code with nothing sent). Tests and benchmarks go through
the same doors.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .catalog.mapping import Catalog, extract_catalog
from .catalog.sources import SourceConfig
from .catalog.validation import ValidationResult, validate_catalog
from .ledger import Ledger
from .sync import (
    OUTCOMES,
    STOP,
    DeactivationLimit,
    Plan,
    Sync,
    SyncReport,
    failed_only,
    guard_deactivations,
    make_plan,
)
from .vendors.base import PayloadBuilder, PayloadSet, build_payloads
from .vendors.client import VendorClient

COUNT_KEYS = (*OUTCOMES, "requests", "throttled")


def extract(source: SourceConfig) -> Catalog:
    """Read a source into our four tables; what cannot be read is kept with the reason."""
    return extract_catalog(source)


def validate(catalog: Catalog) -> ValidationResult:
    return validate_catalog(catalog)


def read(source: SourceConfig) -> ValidationResult:
    """Extract and validate: what `course-pipeline validate` reports."""
    return validate(extract(source))


def build(result: ValidationResult, builders: Iterable[PayloadBuilder]) -> dict[str, PayloadSet]:
    """Each vendor's payload items and rejects, in one walk over the valid catalog."""
    return build_payloads(result.valid, list(builders))


@dataclass
class VendorSync:
    """What a sync step did: the plan, and the report unless it was a dry run."""

    plan: Plan
    report: SyncReport | None

    def counts(self) -> dict[str, int]:
        return self.plan.counts() if self.report is None else self.report.counts()


def sync_vendor(payloads: PayloadSet, client: VendorClient, ledger: Ledger, *, source: str,
                catalog_ids: Iterable[str], run_id: str | None = None, dry_run: bool = False,
                only_failed: bool = False, allow_deactivations: int = 0,
                limit: DeactivationLimit | None = None,
                progress: Callable[[int, int], None] | None = None,
                notify: Callable[[str], None] = lambda message: None) -> VendorSync:
    """Plan against the ledger and, unless dry_run, send the plan and record every outcome, holding the
    account's lock throughout (a second sync of the account waits, told why through `notify`).
    only_failed: send only what last failed (or is unknown where a repeat is safe).
    allow_deactivations: the go-ahead for this many take-downs past the deactivation guard."""
    catalog_ids = set(catalog_ids)

    def plan_now() -> Plan:
        states = ledger.states(client.vendor, client.account)
        plan = make_plan(payloads, states, source=source, catalog_ids=catalog_ids, client=client)
        if only_failed:
            return failed_only(plan)
        return guard_deactivations(plan, states, account=client.account, limit=limit or DeactivationLimit(),
                                   allowed=allow_deactivations,
                                   catalog_empty=not catalog_ids and not payloads.items)

    if dry_run:
        return VendorSync(plan_now(), None)
    run_id = run_id or uuid.uuid4().hex
    client.notify = notify  # the vendor's warnings go to the run's log
    with ledger.hold(client.vendor, client.account, run_id=run_id, source=source, notify=notify, stop=STOP):
        plan = plan_now()  # read under the lock: what another sync of this account just recorded counts
        report = Sync(plan, client, ledger, run_id=run_id, progress=progress).run()
    for line in client.notices():  # said once a step, e.g. a quota that ran out
        notify(line)
    return VendorSync(plan, report)


@dataclass
class VendorTotals:
    """Outcome counts per vendor, summed over sources."""

    vendors: dict[str, Counter] = field(default_factory=dict)

    def add(self, vendor: str, counts: dict[str, int]) -> None:
        self.vendors.setdefault(vendor, Counter(dict.fromkeys(COUNT_KEYS, 0))).update(counts)

    def as_json(self) -> dict:
        return {"vendors": {v: {k: int(c[k]) for k in COUNT_KEYS} for v, c in self.vendors.items()}}

    @property
    def failed_or_unknown(self) -> int:
        return sum(c["failed"] + c["unknown"] for c in self.vendors.values())
