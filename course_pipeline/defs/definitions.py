"""Assembles the Dagster definitions: assets, checks, resources, jobs."""

import dagster as dg

from ..vendors import VENDORS
from ..vendors.settings import enabled_vendors
from .automation import RETRY_FAILED_CONFIG, catalog_sensor_for, nightly_schedule_for
from .catalog_assets import catalog_file, raw_catalog, valid_catalog
from .payload_assets import payload_asset_key, vendor_payloads
from .resources import CatalogSources, LedgerResource, default_sources_file, vendor_account_from_env
from .sync_assets import SYNC_ASSETS, sync_asset_key, sync_report


def sync_selection(vendors: list[str]) -> dg.AssetSelection:
    """The catalog, these vendors' payloads and syncs, and the report."""
    keys = ["raw_catalog", "valid_catalog", "sync_report"]
    keys += [payload_asset_key(v) for v in vendors] + [sync_asset_key(v) for v in vendors]
    return dg.AssetSelection.assets(*keys)


catalog_job = dg.define_asset_job(
    "catalog_job", selection=dg.AssetSelection.assets(raw_catalog, valid_catalog),
    description="Extract and validate one catalog source.")

sync_job = dg.define_asset_job(
    "sync_job", selection=sync_selection(enabled_vendors()),
    description="The whole pipeline for one catalog source: extract, validate, build payloads, send what "
                "changed to every enabled vendor, report.")


retry_failed_job = dg.define_asset_job(
    "retry_failed", selection=sync_selection(enabled_vendors()), config=RETRY_FAILED_CONFIG,
    description="Re-sends only the items whose last outcome is failed, or unknown where a repeat cannot make a "
                "duplicate; everything else is left alone.")


def build_resources(sandbox_url: str | None = None, sources_file: str | None = None,
                    ledger_url: str | None = None) -> dict:
    return {
        "catalog_sources": CatalogSources(sources_file=sources_file or default_sources_file()),
        "ledger": LedgerResource(url=ledger_url),
        **{name: vendor_account_from_env(name, sandbox_url) for name in VENDORS},
    }


ASSETS = [catalog_file, raw_catalog, valid_catalog, vendor_payloads, *SYNC_ASSETS, sync_report]

defs = dg.Definitions(
    assets=ASSETS,
    jobs=[catalog_job, sync_job, retry_failed_job],
    sensors=[catalog_sensor_for(sync_job)],
    schedules=[nightly_schedule_for(sync_job)],
    resources=build_resources(),
)
