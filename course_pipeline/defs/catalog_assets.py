"""raw_catalog and valid_catalog: one materialization per catalog partition, with the numbers and
rejects a person needs in the UI, and the checks that stop a broken catalog from going further."""


import dagster as dg

from .. import pipeline
from ..catalog.mapping import Catalog
from ..catalog.report import rejects_markdown, summary_table
from ..catalog.validation import ValidationResult
from .executors import UPSTREAM_PRIORITY, priority_tags
from .partitions import catalog_partitions
from .resources import CatalogSources

TABLES_READABLE = "tables_readable"
NO_REJECTED_ROWS = "no_rejected_rows"
CATALOG_FILE = "catalog_file"


# The catalog's files: an external asset. The catalog sensor observes it, each observation carrying the
# content hash as its data version, so a changed catalog shows in the UI before it is synced.
catalog_file = dg.AssetSpec(
    CATALOG_FILE,
    partitions_def=catalog_partitions,
    group_name="catalog",
    description="The catalog source's files as they are now. The catalog sensor observes them; an observation's "
                "data version is the content hash (files and mapping).",
)


@dg.asset(
    partitions_def=catalog_partitions,
    group_name="catalog",
    op_tags=priority_tags(UPSTREAM_PRIORITY),
    kinds={"pandas"},
    description="The catalog source read into our four tables (courses, modules, lessons, materials), "
                "values parsed, every row keeping its file, sheet and row number.",
    deps=[CATALOG_FILE],
    check_specs=[dg.AssetCheckSpec(TABLES_READABLE, asset="raw_catalog", blocking=True,
                                   description="Every configured table of the source could be read.")],
)
def raw_catalog(context: dg.AssetExecutionContext, catalog_sources: CatalogSources):
    source = catalog_sources.get(context.partition_key)
    catalog = pipeline.extract(source)
    rows = catalog.row_counts()
    metadata = {
        **{f"rows/{table}": dg.MetadataValue.int(n) for table, n in rows.items()},
        "dagster/row_count": dg.MetadataValue.int(sum(rows.values())),
        "content_hash": dg.MetadataValue.text(catalog.content_hash),
        "format": dg.MetadataValue.text(source.format),
        "files": dg.MetadataValue.json([str(f) for f in source.files()]),
        "unreadable_cells": dg.MetadataValue.int(len(catalog.cell_rejects)),
    }
    yield dg.Output(catalog, metadata=metadata, data_version=dg.DataVersion(catalog.content_hash))
    yield dg.AssetCheckResult(
        check_name=TABLES_READABLE,
        passed=not catalog.table_errors,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(catalog.table_errors.values()) or None,
        metadata={"unreadable_tables": dg.MetadataValue.md(
            "\n".join(f"- **{t}**: {why}" for t, why in catalog.table_errors.items()) or "none")},
    )


@dg.asset(
    partitions_def=catalog_partitions,
    group_name="catalog",
    op_tags=priority_tags(UPSTREAM_PRIORITY),
    kinds={"pandera"},
    description="The catalog after pandera validation and the cross-table rules: the rows that go on, "
                "and every rejected row with all its reasons and the cell it came from.",
    check_specs=[dg.AssetCheckSpec(NO_REJECTED_ROWS, asset="valid_catalog",
                                   description="No row of the catalog was rejected (a warning: the rest go on).")],
)
def valid_catalog(context: dg.AssetExecutionContext, raw_catalog: Catalog):
    result: ValidationResult = pipeline.validate(raw_catalog)
    summary = result.summary.set_index("table")
    metadata = {
        **{f"valid/{t}": dg.MetadataValue.int(int(summary.at[t, "valid"])) for t in summary.index},
        "rejected_rows": dg.MetadataValue.int(result.rejected_rows),
        "reject_reasons": dg.MetadataValue.int(len(result.rejects)),
        "dagster/row_count": dg.MetadataValue.int(int(summary["valid"].sum())),
        "summary": dg.MetadataValue.md(summary_table(result, fmt="github")),
        "rejects": dg.MetadataValue.md(rejects_markdown(result)),
        "content_hash": dg.MetadataValue.text(result.content_hash),
    }
    yield dg.Output(result, metadata=metadata)
    yield dg.AssetCheckResult(
        check_name=NO_REJECTED_ROWS,
        passed=result.rejected_rows == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"rejected_rows": dg.MetadataValue.int(result.rejected_rows),
                  "rejects": dg.MetadataValue.md(rejects_markdown(result))},
    )
