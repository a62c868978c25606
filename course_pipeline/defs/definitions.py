"""Assembles the Dagster definitions: assets, checks, resources, jobs."""

import dagster as dg

from .catalog_assets import raw_catalog, valid_catalog
from .partitions import catalog_partitions
from .payload_assets import vendor_payloads
from .resources import CatalogSources, HighLevelSettings, default_sources_file

catalog_job = dg.define_asset_job(
    "catalog_job",
    selection=dg.AssetSelection.assets(raw_catalog, valid_catalog),
    partitions_def=catalog_partitions,
    description="Extract and validate one catalog source.",
)

defs = dg.Definitions(
    assets=[raw_catalog, valid_catalog, vendor_payloads],
    jobs=[catalog_job],
    resources={"catalog_sources": CatalogSources(sources_file=default_sources_file()),
               "highlevel": HighLevelSettings()},
)
