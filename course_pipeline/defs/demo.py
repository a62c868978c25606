"""`course-pipeline demo`: run the pipeline on the sample catalogs in the local Dagster instance
(DAGSTER_HOME), so every run is there to inspect in the UI afterwards, and print the outcome."""

import os
from pathlib import Path

import dagster as dg

from ..catalog.report import rejects_table, summary_table
from ..catalog.sources import load_sources
from .catalog_assets import raw_catalog, valid_catalog
from .partitions import register_sources
from .resources import CatalogSources

REJECTS_SHOWN = 8
# The step-by-step event log belongs in the UI; the terminal gets warnings and the summary.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def local_instance() -> dg.DagsterInstance:
    """The instance in DAGSTER_HOME, defaulting to ./dagster_home so a fresh checkout just works."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(Path("dagster_home").resolve())))
    home.mkdir(parents=True, exist_ok=True)
    return dg.DagsterInstance.get()


def run_demo(sources_file: str) -> int:
    sources = load_sources(sources_file)
    instance = local_instance()
    register_sources(instance, sources)
    resources = {"catalog_sources": CatalogSources(sources_file=str(Path(sources_file).resolve()))}
    failed = []
    for source in sources:
        result = dg.materialize([raw_catalog, valid_catalog], partition_key=source.name, instance=instance,
                                resources=resources, raise_on_error=False, tags={"demo": "true"},
                                run_config=QUIET_RUN_CONFIG)
        print(f"\n== {source.name} ({source.format}, {source.path.name})  run {result.run_id[:8]}")
        if not result.success:
            failed.append(source.name)
            for event in result.all_events:
                if event.is_failure and event.event_specific_data is not None:
                    error = getattr(event.event_specific_data, "error", None)
                    print(f"  failed: {error.message.strip() if error else event.message}")
            continue
        validated = result.output_for_node("valid_catalog")
        print(summary_table(validated))
        if not validated.rejects.empty:
            print(f"\nrejected rows ({validated.rejected_rows}), first {REJECTS_SHOWN} reasons:")
            print(rejects_table(validated, limit=REJECTS_SHOWN))
    print(f"\nDagster instance: {os.environ['DAGSTER_HOME']}")
    print("Open the runs, assets and rejects in the Dagster UI:  make ui  then http://127.0.0.1:3000 "
          "(Assets > valid_catalog > a partition)")
    return 2 if failed else 0
