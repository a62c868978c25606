"""What runs without a click: the catalog sensor, the nightly reconcile, and the retry of failures."""

import datetime as dt
import json
import os

import dagster as dg

from ..catalog.sources import load_sources_leniently
from ..vendors import VENDORS
from .catalog_assets import CATALOG_FILE
from .partitions import catalog_partitions
from .resources import CatalogSources
from .sync_assets import sync_asset_key

SENSOR_INTERVAL_SECONDS = 60
# The sensor and the nightly schedule start running with the daemon (`make ui`), unless
# COURSE_PIPELINE_AUTOMATION=stopped (then they are switched on in the UI, Automation tab).
AUTOMATION_ENV = "COURSE_PIPELINE_AUTOMATION"


def _running() -> bool:
    return os.environ.get(AUTOMATION_ENV, "running").strip().lower() != "stopped"


def catalog_sensor_for(job) -> dg.SensorDefinition:
    @dg.sensor(name="catalog_sources_sensor", job=job, minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
               default_status=dg.DefaultSensorStatus.RUNNING if _running() else dg.DefaultSensorStatus.STOPPED,
               description="Watches the sources in sources.yaml: a new source gets its partition, and a "
                           "changed catalog (content hash) gets one sync run.")
    def catalog_sources_sensor(context: dg.SensorEvaluationContext, catalog_sources: CatalogSources):
        """The cursor holds each source's last seen content hash. The run key is the hash itself, so the
        same change never runs twice, even if the cursor were lost."""
        seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        sources, problems = load_sources_leniently(catalog_sources.sources_file)
        for problem in problems:
            context.log.error(f"skipped: {problem}")
        known = set(context.instance.get_dynamic_partitions(catalog_partitions.name))
        new_partitions, run_requests, observations = [], [], []
        for source in sources:
            try:
                digest = source.content_hash()
            except OSError as exc:  # unreadable right now: say so, look again next time
                context.log.error(f"source {source.name!r}: cannot read {exc.filename}: {exc.strerror}")
                continue
            if source.name not in known:
                new_partitions.append(source.name)
            if seen.get(source.name) != digest:
                run_requests.append(dg.RunRequest(partition_key=source.name, run_key=f"{source.name}:{digest}",
                                                  tags={"trigger": "catalog changed"}))
                observations.append(dg.AssetObservation(asset_key=CATALOG_FILE, partition=source.name,
                                                        tags={"dagster/data_version": digest},
                                                        metadata={"content_hash": digest}))
                seen[source.name] = digest
        return dg.SensorResult(
            run_requests=run_requests,
            dynamic_partitions_requests=[catalog_partitions.build_add_request(new_partitions)] if new_partitions
            else [],
            asset_events=observations,
            cursor=json.dumps(seen, sort_keys=True),
            skip_reason=None if run_requests else "no catalog changed",
        )

    return catalog_sources_sensor


def nightly_schedule_for(job) -> dg.ScheduleDefinition:
    @dg.schedule(name="nightly_reconcile", job=job, cron_schedule="0 2 * * *", execution_timezone="UTC",
                 default_status=dg.DefaultScheduleStatus.RUNNING if _running()
                 else dg.DefaultScheduleStatus.STOPPED,
                 description="Every night, every catalog partition is synced: only changes go out, and what "
                             "failed or changed on the vendor's side by hand is put right.")
    def nightly_reconcile(context: dg.ScheduleEvaluationContext):
        day = (context.scheduled_execution_time or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d")
        for partition in context.instance.get_dynamic_partitions(catalog_partitions.name):
            yield dg.RunRequest(partition_key=partition, run_key=f"nightly:{day}:{partition}",
                                tags={"trigger": "nightly reconcile"})

    return nightly_reconcile


# The retry job sends only what last failed (or is unknown where a repeat is safe); see SyncConfig.
RETRY_FAILED_CONFIG = {"ops": {sync_asset_key(v): {"config": {"only_failed": True}} for v in VENDORS}}
