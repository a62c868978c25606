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
from ..vendors import VENDOR_NAMES
from .automation import catalog_sensor_for, nightly_schedule_for, retry_failed_config
from .catalog_assets import catalog_file, raw_catalog, valid_catalog
from .executors import run_executor
from .payload_assets import payload_asset_key, vendor_payloads
from .resources import CatalogSources, LedgerResource, live_targets
from .sandbox_target import sandbox_targets
from .sync_assets import SYNC_ASSETS, sync_asset_key, sync_report

TARGET_ENV = "COURSE_PIPELINE_TARGET"
VENDORS_ENV = "COURSE_PIPELINE_VENDORS"
TARGETS = ("sandbox", "live")

ASSETS = [catalog_file, raw_catalog, valid_catalog, vendor_payloads, *SYNC_ASSETS, sync_report]


def enabled_vendors(text: str | None = None) -> list[str]:
    """The vendors named (comma-separated), default all; an unknown name is a ConfigError."""
    text = os.environ.get(VENDORS_ENV) if text is None else text
    names = [n.strip() for n in (text or ",".join(VENDOR_NAMES)).split(",") if n.strip()]
    unknown = [n for n in names if n not in VENDOR_NAMES]
    if unknown:
        raise ConfigError(f"{VENDORS_ENV} names unknown vendor(s) {', '.join(unknown)}; "
                          f"vendors are: {', '.join(VENDOR_NAMES)}")
    return names


def targets(target: str | None = None) -> dict:
    """The vendor resources of a deployment: the sandbox (default) or the live accounts."""
    target = target or os.environ.get(TARGET_ENV) or "sandbox"
    if target not in TARGETS:
        raise ConfigError(f"{TARGET_ENV} must be one of {', '.join(TARGETS)}, not {target!r}")
    auth = os.environ.get("HIGHLEVEL_AUTH") or "token"
    if target == "live":
        return live_targets(highlevel_auth=auth)
    return sandbox_targets(highlevel_oauth=auth == "oauth")


def sync_selection(vendors: list[str]) -> dg.AssetSelection:
    """The catalog, these vendors' payloads and syncs, and the report."""
    keys = ["raw_catalog", "valid_catalog", "sync_report"]
    keys += [payload_asset_key(v) for v in vendors] + [sync_asset_key(v) for v in vendors]
    return dg.AssetSelection.assets(*keys)


def build_defs(target: str | None = None, vendors: list[str] | None = None,
               executor: str | None = None) -> dg.Definitions:
    vendors = vendors or enabled_vendors()
    # In-process by default (one process per run: a step subprocess costs more start-up than a catalog's sync
    # takes); celery for a team's workers. Either way the vendors' pools are claimed per step.
    run_executor_def = run_executor(executor)
    sync_job = dg.define_asset_job(
        "sync_job", selection=sync_selection(vendors), executor_def=run_executor_def,
        description="The whole pipeline for one catalog source: extract, validate, build payloads, send what "
                    "changed to every enabled vendor, report.")
    catalog_job = dg.define_asset_job(
        "catalog_job", selection=dg.AssetSelection.assets(raw_catalog, valid_catalog),
        description="Extract and validate one catalog source.")
    retry_failed_job = dg.define_asset_job(
        "retry_failed", selection=sync_selection(vendors), config=retry_failed_config(vendors),
        executor_def=run_executor_def,
        description="Re-sends only the items whose last outcome is failed, or unknown where a repeat cannot make "
                    "a duplicate; everything else is left alone.")
    return dg.Definitions(
        assets=ASSETS,
        jobs=[catalog_job, sync_job, retry_failed_job],
        sensors=[catalog_sensor_for(sync_job)],
        schedules=[nightly_schedule_for(sync_job)],
        resources={"catalog_sources": CatalogSources(), "ledger": LedgerResource(), **targets(target)},
    )
