"""Assembles the Dagster definitions: assets, checks, resources, jobs, the sensor and the schedule.

Four deployment choices are read when the code location loads (as project_fully_featured picks its
resources by deployment): COURSE_PIPELINE_TARGET (`sandbox`, the default, or `live`),
COURSE_PIPELINE_VENDORS (the vendors the jobs sync; default all four), for live HIGHLEVEL_AUTH
(`token` or `oauth`), and COURSE_PIPELINE_EXECUTOR (`in_process`, the default, or `celery`: executors.py).
Everything else is resolved when a run starts; secrets are EnvVar."""

from __future__ import annotations

import os

import dagster as dg

from ..catalog.errors import ConfigError
from ..catalog.sources import read_sources
from ..destinations import Destination, Destinations, destinations_file, read_destinations
from ..paths import default_sources_file
from ..vendors import VENDOR_NAMES
from .automation import catalog_sensor_for, nightly_schedule_for, retry_failed_config
from .catalog_assets import catalog_file, raw_catalog, valid_catalog
from .executors import run_executor
from .payload_assets import vendor_payloads
from .resources import CatalogSources, LedgerResource, live_targets
from .sandbox_target import sandbox_targets
from .sync_assets import build_sync_asset, build_sync_report, sync_keys

TARGET_ENV = "COURSE_PIPELINE_TARGET"
VENDORS_ENV = "COURSE_PIPELINE_VENDORS"
TARGETS = ("sandbox", "live")

CATALOG_ASSETS = [catalog_file, raw_catalog, valid_catalog, vendor_payloads]


def enabled_vendors(text: str | None = None) -> list[str]:
    """The vendors named (comma-separated), default all; an unknown name is a ConfigError."""
    text = os.environ.get(VENDORS_ENV) if text is None else text
    names = [n.strip() for n in (text or ",".join(VENDOR_NAMES)).split(",") if n.strip()]
    unknown = [n for n in names if n not in VENDOR_NAMES]
    if unknown:
        raise ConfigError(f"{VENDORS_ENV} names unknown vendor(s) {', '.join(unknown)}; "
                          f"vendors are: {', '.join(VENDOR_NAMES)}")
    return names


def targets(destinations: Destinations, target: str | None = None) -> dict:
    """The vendor resources of a deployment, one per destination: the sandbox (default) or the live accounts."""
    target = target or os.environ.get(TARGET_ENV) or "sandbox"
    if target not in TARGETS:
        raise ConfigError(f"{TARGET_ENV} must be one of {', '.join(TARGETS)}, not {target!r}")
    auth = os.environ.get("HIGHLEVEL_AUTH") or "token"
    if target == "live":
        return live_targets(destinations, highlevel_auth=auth)
    return sandbox_targets(destinations, highlevel_oauth=auth == "oauth")


def load_destinations(sources_file: str | os.PathLike | None = None) -> Destinations:
    """Every vendor's destinations: the destinations file of these sources (COURSE_PIPELINE_DESTINATIONS, else
    destinations.yaml beside the sources file), else each vendor's default account."""
    sources_file = sources_file or default_sources_file()
    path = destinations_file(sources_file)
    names = None
    if path is not None:
        try:
            names = [s.name for s in read_sources(sources_file).configured]
        except ConfigError:  # the sources file's own problem is reported where it is read
            names = None
    return read_destinations(path, VENDOR_NAMES, source_names=names)


def sync_selection(destinations: list[Destination]) -> dg.AssetSelection:
    """The catalog, these destinations' payloads and syncs, and the report."""
    return dg.AssetSelection.assets(*sync_keys(destinations))


def build_assets(destinations: Destinations) -> list:
    """The catalog's assets, one sync asset per destination (every vendor's, enabled or not), the report."""
    return [*CATALOG_ASSETS, *(build_sync_asset(d) for d in destinations.all), build_sync_report(list(destinations.all))]


def build_defs(target: str | None = None, vendors: list[str] | None = None,
               destinations: Destinations | None = None, executor: str | None = None) -> dg.Definitions:
    vendors = vendors or enabled_vendors()
    destinations = destinations or load_destinations()
    enabled = [d for d in destinations.all if d.vendor in vendors]
    # In-process by default (one process per run: a step subprocess costs more start-up than a catalog's sync
    # takes); celery for a team's workers. Either way the vendors' pools are claimed per step.
    run_executor_def = run_executor(executor)
    sync_job = dg.define_asset_job(
        "sync_job", selection=sync_selection(enabled), executor_def=run_executor_def,
        description="The whole pipeline for one catalog source: extract, validate, build payloads, send what "
                    "changed to every enabled vendor, report.")
    catalog_job = dg.define_asset_job(
        "catalog_job", selection=dg.AssetSelection.assets(raw_catalog, valid_catalog),
        description="Extract and validate one catalog source.")
    retry_failed_job = dg.define_asset_job(
        "retry_failed", selection=sync_selection(enabled), config=retry_failed_config(enabled),
        executor_def=run_executor_def,
        description="Re-sends only the items whose last outcome is failed, or unknown where a repeat cannot make "
                    "a duplicate; everything else is left alone.")
    return dg.Definitions(
        assets=build_assets(destinations),
        jobs=[catalog_job, sync_job, retry_failed_job],
        sensors=[catalog_sensor_for(sync_job, enabled)],
        schedules=[nightly_schedule_for(sync_job, enabled)],
        resources={"catalog_sources": CatalogSources(), "ledger": LedgerResource(), **targets(destinations, target)},
    )
