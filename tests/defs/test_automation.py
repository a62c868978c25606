"""The sensor, the nightly schedule and the retry job, evaluated the way the daemon evaluates them."""

from __future__ import annotations

import datetime
import json

import dagster as dg
import yaml

from course_pipeline.defs.automation import catalog_sensor_for, nightly_schedule_for
from course_pipeline.defs.definitions import build_defs, load_destinations
from course_pipeline.defs.partitions import catalog_partitions
from course_pipeline.defs.resources import CatalogSources

DEFS = build_defs()
DESTINATIONS = list(load_destinations().all)
SENSOR = catalog_sensor_for(DEFS.resolve_job_def("sync_job"), DESTINATIONS)


def write_sources(folder, names, *, broken=False):
    entries = []
    for name in names:
        (folder / f"{name}.csv").write_text("course_id,title\nC1,One\n", encoding="utf-8")
        entries.append({"name": name, "format": "csv", "path": f"{name}.csv", "tables": {"courses": {}}})
    if broken:
        entries.append({"name": "broken", "format": "csv", "path": "missing.csv", "tables": {"courses": {}}})
    (folder / "sources.yaml").write_text(yaml.safe_dump({"sources": entries}))
    return folder / "sources.yaml"


def evaluate(instance, sources_file, cursor=None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor,
                                      resources={"catalog_sources": CatalogSources(sources_file=str(sources_file))})
    return SENSOR(context)  # the SensorResult, as the daemon receives it


def apply(instance, result):
    """What the daemon does with a tick's partition requests."""
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))


def test_new_source_adds_its_partition_and_one_run(tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    result = evaluate(instance, write_sources(tmp_path, ["alpha"]))
    assert [list(r.partition_keys) for r in result.dynamic_partitions_requests] == [["alpha"]]
    assert [r.partition_key for r in result.run_requests] == ["alpha"]
    assert result.run_requests[0].run_key.startswith("alpha:")
    assert json.loads(result.cursor)["alpha"]["hash"] == result.run_requests[0].run_key.split(":")[1]


def test_changed_file_is_one_run_request_and_unchanged_is_none(tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    sources_file = write_sources(tmp_path, ["alpha", "beta"])
    first = evaluate(instance, sources_file)
    apply(instance, first)
    assert sorted(r.partition_key for r in first.run_requests) == ["alpha", "beta"]
    unchanged = evaluate(instance, sources_file, cursor=first.cursor)
    assert unchanged.run_requests == []
    assert unchanged.skip_reason is not None and "no catalog changed" in str(unchanged.skip_reason)
    (tmp_path / "beta.csv").write_text("course_id,title\nC1,One\nC2,Two\n", encoding="utf-8")
    changed = evaluate(instance, sources_file, cursor=unchanged.cursor)
    assert [r.partition_key for r in changed.run_requests] == ["beta"]
    assert not changed.dynamic_partitions_requests
    observed = [e for e in changed.asset_events if isinstance(e, dg.AssetObservation)]
    assert [e.partition for e in observed] == ["beta"]
    assert observed[0].tags["dagster/data_version"] == changed.run_requests[0].run_key.split(":")[1]


def test_an_unreadable_source_is_logged_and_the_others_go_on(tmp_path, capfd):
    instance = dg.DagsterInstance.ephemeral()
    result = evaluate(instance, write_sources(tmp_path, ["alpha"], broken=True))
    assert [r.partition_key for r in result.run_requests] == ["alpha"]
    assert [list(r.partition_keys) for r in result.dynamic_partitions_requests] == [["alpha"]]  # none for it
    logged = capfd.readouterr().err
    assert "skipped: source 'broken'" in logged and "missing.csv" in logged


def test_a_source_that_breaks_is_skipped_and_picked_up_again_when_fixed(tmp_path, capfd):
    instance = dg.DagsterInstance.ephemeral()
    sources_file = write_sources(tmp_path, ["alpha", "beta"])
    first = evaluate(instance, sources_file)
    apply(instance, first)
    catalog = (tmp_path / "beta.csv").read_text()
    (tmp_path / "beta.csv").unlink()
    broke = evaluate(instance, sources_file, cursor=first.cursor)
    assert broke.run_requests == [] and "skipped: source 'beta'" in capfd.readouterr().err
    assert json.loads(broke.cursor)["beta"] == json.loads(first.cursor)["beta"]  # what was synced is remembered
    (tmp_path / "beta.csv").write_text(catalog, encoding="utf-8")
    assert evaluate(instance, sources_file, cursor=broke.cursor).run_requests == []  # the same catalog: no run
    (tmp_path / "beta.csv").write_text(catalog + "C2,Two\n", encoding="utf-8")
    changed = evaluate(instance, sources_file, cursor=broke.cursor)
    assert [r.partition_key for r in changed.run_requests] == ["beta"]


def test_nightly_schedule_requests_every_partition_once_a_day(tmp_path):
    instance = dg.DagsterInstance.local_temp(str(tmp_path))  # a schedule's context wants a persistent instance
    instance.add_dynamic_partitions(catalog_partitions.name, ["alpha", "beta"])
    schedule = nightly_schedule_for(DEFS.resolve_job_def("sync_job"), DESTINATIONS)
    context = dg.build_schedule_context(instance=instance, scheduled_execution_time=datetime.datetime(2026, 11, 24, 2))
    requests = list(schedule(context))
    instance.dispose()
    assert [(r.partition_key, r.run_key) for r in requests] == [("alpha", "nightly:2026-11-24:alpha"),
                                                                ("beta", "nightly:2026-11-24:beta")]


def test_a_catalog_edited_a_b_a_is_synced_three_times(tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    sources_file = write_sources(tmp_path, ["alpha"])
    catalog = tmp_path / "alpha.csv"
    a, b = "course_id,title\nC1,One\n", "course_id,title\nC1,One, revised\n"
    keys, cursor = [], None
    for content in (a, a, b, b, a):  # every real change runs once; the same state twice in a row does not
        catalog.write_text(content, encoding="utf-8")
        result = evaluate(instance, sources_file, cursor)
        apply(instance, result)
        keys += [r.run_key for r in result.run_requests]
        cursor = result.cursor
    assert len(keys) == 3 and len(set(keys)) == 3  # A, B, A: three runs, three distinct run keys
    assert keys[0].split(":")[1] == keys[2].split(":")[1]  # the first and the last are the same content


def test_a_catalog_synced_before_the_sensor_first_ticks_is_not_synced_again(tmp_path):
    """A CLI sync (or `make demo`) materialized raw_catalog for this content: the first tick leaves it."""
    from course_pipeline.catalog.sources import load_sources

    instance = dg.DagsterInstance.ephemeral()
    sources_file = write_sources(tmp_path, ["alpha", "beta"])
    instance.add_dynamic_partitions(catalog_partitions.name, ["alpha", "beta"])
    alpha = next(s for s in load_sources(sources_file) if s.name == "alpha")
    instance.report_runless_asset_event(dg.AssetMaterialization(
        asset_key="raw_catalog", partition="alpha", metadata={"content_hash": alpha.content_hash()}))
    result = evaluate(instance, sources_file)
    assert [r.partition_key for r in result.run_requests] == ["beta"]


def test_a_change_synced_from_the_command_line_is_not_synced_again_by_the_sensor(tmp_path):
    """The sensor saw content A (its cursor); the catalog changed to B and `course-pipeline sync` synced B
    before the next tick (the daemon was down): the tick runs nothing, and a later change C still runs."""
    from course_pipeline.catalog.sources import load_sources

    instance = dg.DagsterInstance.ephemeral()
    sources_file = write_sources(tmp_path, ["alpha"])
    first = evaluate(instance, sources_file)
    apply(instance, first)
    (tmp_path / "alpha.csv").write_text("course_id,title\nC1,One, revised\n", encoding="utf-8")
    alpha = load_sources(sources_file)[0]
    instance.report_runless_asset_event(dg.AssetMaterialization(
        asset_key="raw_catalog", partition="alpha", metadata={"content_hash": alpha.content_hash()}))
    after_cli = evaluate(instance, sources_file, cursor=first.cursor)
    assert after_cli.run_requests == []
    assert json.loads(after_cli.cursor)["alpha"]["hash"] == alpha.content_hash()
    (tmp_path / "alpha.csv").write_text("course_id,title\nC1,One, revised again\n", encoding="utf-8")
    assert [r.partition_key for r in evaluate(instance, sources_file, cursor=after_cli.cursor).run_requests] == [
        "alpha"]


def test_definitions_hold_the_jobs_sensor_and_schedule():
    assert {job.name for job in DEFS.jobs} >= {"sync_job", "retry_failed", "catalog_job"}
    assert [s.name for s in DEFS.sensors] == ["catalog_sources_sensor"]
    assert [s.name for s in DEFS.schedules] == ["nightly_reconcile"]
