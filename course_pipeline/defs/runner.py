"""Runs the sync job's assets on a Dagster instance (DAGSTER_HOME), one partition per source, so every
run `course-pipeline sync` or `make demo` makes is there to inspect in the UI."""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
from filelock import FileLock

from ..catalog.errors import ConfigError
from ..catalog.sources import BrokenSource, SourceConfig
from ..paths import dagster_home
from ..pipeline import VendorTotals
from ..sync import OUTCOMES
from .definitions import build_defs, load_destinations, sync_selection
from .partitions import register_sources
from .recovery import pool_holders, release_dead_runs
from .resources import CatalogSources
from .sync_assets import sync_asset_key, vendor_pool

# The step-by-step event log belongs in the UI; the terminal gets the summary, where a failed run is one line
# (its traceback stays in the run's events).
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
INSTANCE_LOCK = ".instance.lock"  # in DAGSTER_HOME


def local_instance() -> dg.DagsterInstance:
    """The instance in DAGSTER_HOME, else the project's dagster_home/ (never the working directory's)."""
    home = dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    # Opening a fresh home creates Dagster's SQLite tables, unguarded against another process doing the same
    # ("table runs already exists", an IntegrityError on alembic_version): two first syncs take turns here.
    with FileLock(home / INSTANCE_LOCK):
        return dg.DagsterInstance.from_config(str(home))


@dataclass
class SyncOutcome:
    totals: VendorTotals = field(default_factory=VendorTotals)
    runs: dict[str, dg.ExecuteInProcessResult] = field(default_factory=dict)
    failed_sources: dict[str, str] = field(default_factory=dict)  # source -> why its run failed (or cannot run)
    guarded: dict[str, dict[str, str]] = field(default_factory=dict)  # source -> vendor -> the guard's verdict
    # A dry run's field-by-field changes (diff.FieldChange rows), from each sync step's output.
    changes: list[dict] = field(default_factory=list)


def run_sync(sources_file: str | Path, sources: list[SourceConfig], vendors: list[str], *,
             instance: dg.DagsterInstance | None = None, dry_run: bool = False, only_failed: bool = False,
             allow_deactivations: int = 0, quiet: bool = True, tags: dict[str, str] | None = None,
             broken: Sequence[BrokenSource] = (), notify: Callable[[str], None] = lambda message: None) -> SyncOutcome:
    """Materialize the sync job's assets for each source, with the definitions' own resources: the door
    `course-pipeline sync`, `plan` (dry_run, on a throw-away instance) and `make demo` go through. A source
    that cannot be configured (broken) is not run: it is a failed source, and the others go on.
    allow_deactivations: this run's go-ahead past the deactivation guard. notify: told what a run waits
    for, and which dead runs were cleared."""
    instance = instance or local_instance()
    register_sources(instance, sources)
    destinations = load_destinations(sources_file)
    enabled = [d for d in destinations.all if d.vendor in vendors]
    defs = build_defs(vendors=vendors, destinations=destinations)
    assets = list(defs.assets)
    resources = {**defs.resources, "catalog_sources": CatalogSources(sources_file=str(Path(sources_file).resolve()))}
    pools = [vendor_pool(d.key) for d in enabled]
    outcome = SyncOutcome(failed_sources={source.name: source.error for source in broken})
    for source in sources:
        receiving = [d for d in enabled if d.receives(source.name)]  # the destinations file's `sources`
        run_config = dict(QUIET_RUN_CONFIG) if quiet else {}
        if dry_run or only_failed or allow_deactivations:
            run_config["ops"] = {sync_asset_key(d.key): {"config": {
                "dry_run": dry_run, "only_failed": only_failed, "allow_deactivations": allow_deactivations}}
                for d in receiving}
        if not dry_run:
            for line in release_dead_runs(instance, pools) + pool_holders(instance, pools):
                notify(line)
        try:
            result = dg.materialize(assets, selection=sync_selection(receiving), partition_key=source.name,
                                    instance=instance, resources=resources, run_config=run_config,
                                    raise_on_error=False, tags={"source": source.name, **(tags or {})})
        except dg.DagsterInvalidConfigError as exc:
            raise ConfigError(_config_problem(exc)) from None
        outcome.runs[source.name] = result
        if not result.success:
            outcome.failed_sources[source.name] = _failure(result)
        for destination in receiving:  # totals per destination: the vendor's name for its default account
            events = result.asset_materializations_for_node(sync_asset_key(destination.key))
            if not events:
                continue
            meta = events[-1].metadata
            if "deactivation_guard" in meta:
                outcome.guarded.setdefault(source.name, {})[destination.key] = str(meta["deactivation_guard"].value)
            this_run = meta["this_run"].value
            outcome.totals.add(destination.key, {key: int(this_run[key]) for key in (*OUTCOMES, "requests", "throttled")})
            if dry_run:
                planned = result.output_for_node(sync_asset_key(destination.key))
                outcome.changes += [row for rows in planned.get("changes", []) for row in rows]
    return outcome


def _config_problem(exc: dg.DagsterInvalidConfigError) -> str:
    """Dagster's config error as one line: which variables the run's environment lacks."""
    missing = sorted(set(re.findall(r'environment variable "(\w+)" which is not set', str(exc))))
    if missing:
        return (f"the run's environment lacks {', '.join(missing)}, which the live vendor targets need "
                f"(or leave COURSE_PIPELINE_TARGET unset to use the local sandbox)")
    return str(exc).strip().splitlines()[0]


def _failure(result: dg.ExecuteInProcessResult) -> str:
    for check in result.get_asset_check_evaluations():  # a blocking check that stopped the run says why
        if not check.passed and check.severity == dg.AssetCheckSeverity.ERROR and check.description:
            return check.description
    for event in result.all_events:
        if event.is_failure and event.event_specific_data is not None:
            error = getattr(event.event_specific_data, "error", None)
            if error is not None:  # "dagster._core.definitions.events.Failure: why" -> "why"
                first = error.message.strip().splitlines()[0]
                kind, _, why = first.partition(": ")
                return why if why and error.cls_name and kind.endswith(error.cls_name) else first
    return "the run failed (see the Dagster UI)"
