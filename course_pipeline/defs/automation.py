"""What runs without a click: the catalog sensor, the nightly reconcile, and the retry of failures."""

import datetime as dt
import json
import os

import dagster as dg

from ..destinations import Destination
from .catalog_assets import CATALOG_FILE
from .partitions import catalog_partitions
from .recovery import release_dead_runs
from .resources import CatalogSources
from .sync_assets import sync_asset_key, sync_keys, vendor_pool

SENSOR_INTERVAL_SECONDS = 60
# The sensor and the nightly schedule start running with the daemon (`make ui`), unless
# COURSE_PIPELINE_AUTOMATION=stopped (then they are switched on in the UI, Automation tab).
AUTOMATION_ENV = "COURSE_PIPELINE_AUTOMATION"


def _running() -> bool:
    return os.environ.get(AUTOMATION_ENV, "running").strip().lower() != "stopped"


def last_synced_hash(instance: dg.DagsterInstance, partition: str) -> str | None:
    """The content hash of the catalog the last materialization of raw_catalog read for this partition
    (by the sensor, the UI, `course-pipeline sync` or `make demo`), if any."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("raw_catalog"), asset_partitions=[partition]), limit=1)
    if not records.records:
        return None
    event = records.records[0].asset_materialization
    value = event.metadata.get("content_hash") if event else None
    return value.value if value is not None else None


def run_selection(destinations: list[Destination], source: str) -> list[dg.AssetKey] | None:
    """What a run of the sync job for this source materializes: None (the whole job) when every destination
    receives the source, else the catalog, the report and the receiving destinations' payloads and syncs."""
    receiving = [d for d in destinations if d.receives(source)]
    if len(receiving) == len(destinations):
        return None
    return [dg.AssetKey(key) for key in sync_keys(receiving)]


def catalog_sensor_for(job, destinations: list[Destination]) -> dg.SensorDefinition:
    @dg.sensor(name="catalog_sources_sensor", job=job, minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
               default_status=dg.DefaultSensorStatus.RUNNING if _running() else dg.DefaultSensorStatus.STOPPED,
               description="Watches the sources in sources.yaml: a new source gets its partition, and every change "
                           "of a catalog's content gets one sync run.")
    def catalog_sources_sensor(context: dg.SensorEvaluationContext, catalog_sources: CatalogSources):
        """The cursor holds, per source, the content hash last requested and how many changes it has seen.
        A run is requested whenever the hash differs from the last one (so A -> B -> A runs three times, and
        the same state never twice in a row); the run key carries the change number, so it is new each time.
        A source the cursor has not seen yet starts from what was last synced (a CLI sync, a demo), so a
        catalog synced just before the sensor first ticks is not synced again; and a change the cursor has not
        seen but that was synced already (from the command line while the daemon was down) is not run again."""
        for line in release_dead_runs(context.instance, [vendor_pool(d.key) for d in destinations]):
            context.log.warning(line)  # a killed run must not hold its vendor's pool until someone notices
        seen: dict[str, dict] = {name: (entry if isinstance(entry, dict) else {"hash": entry, "changes": 0})
                                 for name, entry in (json.loads(context.cursor) if context.cursor else {}).items()}
        sources = catalog_sources.read()
        for broken in sources.broken:  # no partition, no run; its cursor entry is kept for when it is fixed
            context.log.error(f"skipped: {broken.error}")
        known = set(context.instance.get_dynamic_partitions(catalog_partitions.name))
        new_partitions, run_requests, observations = [], [], []
        for source in sources.configured:
            try:
                digest = source.content_hash()
            except OSError as exc:  # unreadable right now: say so, look again next time
                context.log.error(f"source {source.name!r}: cannot read {exc.filename}: {exc.strerror}")
                continue
            if source.name not in known:
                new_partitions.append(source.name)
            entry = seen.get(source.name)
            if entry is None:
                entry = {"hash": last_synced_hash(context.instance, source.name) if source.name in known else None,
                         "changes": 0}
            if entry["hash"] != digest and source.name in known and (
                    last_synced_hash(context.instance, source.name) == digest):
                # Synced meanwhile through another door (the CLI, a backfill, the UI): nothing left to run.
                entry = {"hash": digest, "changes": entry["changes"]}
            if entry["hash"] != digest:
                entry = {"hash": digest, "changes": entry["changes"] + 1}
                run_requests.append(dg.RunRequest(partition_key=source.name,
                                                  run_key=f"{source.name}:{digest}:{entry['changes']}",
                                                  asset_selection=run_selection(destinations, source.name),
                                                  tags={"trigger": "catalog changed"}))
                observations.append(dg.AssetObservation(asset_key=CATALOG_FILE, partition=source.name,
                                                        tags={"dagster/data_version": digest},
                                                        metadata={"content_hash": digest}))
            seen[source.name] = entry
        return dg.SensorResult(
            run_requests=run_requests,
            dynamic_partitions_requests=[catalog_partitions.build_add_request(new_partitions)] if new_partitions
            else [],
            asset_events=observations,
            cursor=json.dumps(seen, sort_keys=True),
            skip_reason=None if run_requests else "no catalog changed",
        )

    return catalog_sources_sensor


def nightly_schedule_for(job, destinations: list[Destination]) -> dg.ScheduleDefinition:
    @dg.schedule(name="nightly_reconcile", job=job, cron_schedule="0 2 * * *", execution_timezone="UTC",
                 default_status=dg.DefaultScheduleStatus.RUNNING if _running()
                 else dg.DefaultScheduleStatus.STOPPED,
                 description="Every night, every catalog partition is synced: only changes go out, and what "
                             "failed or changed on the vendor's side by hand is put right.")
    def nightly_reconcile(context: dg.ScheduleEvaluationContext):
        day = (context.scheduled_execution_time or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d")
        for partition in context.instance.get_dynamic_partitions(catalog_partitions.name):
            yield dg.RunRequest(partition_key=partition, run_key=f"nightly:{day}:{partition}",
                                asset_selection=run_selection(destinations, partition),
                                tags={"trigger": "nightly reconcile"})

    return nightly_reconcile


def retry_failed_config(destinations: list[Destination]) -> dict:
    """The retry job sends only what last failed (or is unknown where a repeat is safe); see SyncConfig."""
    return {"ops": {sync_asset_key(d.key): {"config": {"only_failed": True}} for d in destinations}}
