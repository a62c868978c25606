"""raw_catalog and valid_catalog materialized the way the UI does it, on a throw-away instance."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from course_pipeline.defs.catalog_assets import raw_catalog, valid_catalog
from course_pipeline.defs.partitions import catalog_partitions, register_sources
from course_pipeline.defs.resources import CatalogSources

PROJECT = Path(__file__).resolve().parents[2]


def materialize(sources_file, partition):
    instance = dg.DagsterInstance.ephemeral()
    register_sources(instance, CatalogSources(sources_file=str(sources_file)).all())
    return dg.materialize([raw_catalog, valid_catalog], partition_key=partition, instance=instance,
                          resources={"catalog_sources": CatalogSources(sources_file=str(sources_file))},
                          raise_on_error=False)


def metadata(result, node):
    (event,) = result.asset_materializations_for_node(node)
    return {k: v.value for k, v in event.metadata.items()}


def checks(result):
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_sample_partition_metadata_and_checks(sample_sources_file):
    result = materialize(sample_sources_file, "partner_kurse")
    assert result.success
    raw = metadata(result, "raw_catalog")
    assert raw["rows/courses"] == 8 and raw["dagster/row_count"] == 8 and len(raw["content_hash"]) == 64
    valid = metadata(result, "valid_catalog")
    assert valid["valid/courses"] == 5 and valid["rejected_rows"] == 3 and valid["dagster/row_count"] == 5
    assert "P-2006" in valid["rejects"] and "| table" in valid["summary"]
    evaluations = checks(result)
    assert evaluations["tables_readable"].passed
    assert not evaluations["no_rejected_rows"].passed
    assert evaluations["no_rejected_rows"].severity == dg.AssetCheckSeverity.WARN


def test_unreadable_table_blocks_validation(sources):
    from course_pipeline.defs.runner import _failure

    sources.csv("")
    result = materialize(sources.dir / "sources.yaml", "src")
    assert not result.success
    assert not checks(result)["tables_readable"].passed
    assert result.asset_materializations_for_node("valid_catalog") == []
    why = "src.csv is empty: expected a header row and rows of courses"
    assert _failure(result) == checks(result)["tables_readable"].description == why


def test_partitions_are_registered_once(sample_sources_file):
    instance = dg.DagsterInstance.ephemeral()
    sources = CatalogSources(sources_file=str(sample_sources_file)).all()
    assert register_sources(instance, sources) == ["northwind_academy", "partner_kurse", "cms_export",
                                                 "canvas_cartridges", "openedx_course"]
    assert register_sources(instance, sources) == []
    assert instance.get_dynamic_partitions(catalog_partitions.name) == [s.name for s in sources]


@pytest.mark.timeout(180)
def test_definitions_validate_on_workspace(tmp_path):
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT, capture_output=True, text=True, env={"DAGSTER_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        timeout=170,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "All code locations passed validation" in proc.stderr + proc.stdout


@pytest.mark.timeout(300)
def test_dg_checks_and_lists_the_definitions(tmp_path):
    env = {"DAGSTER_HOME": str(tmp_path), "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
           "VIRTUAL_ENV": str(Path(sys.executable).parents[1]), "HOME": str(tmp_path)}
    dg_cli = str(Path(sys.executable).parent / "dg")
    checked = subprocess.run([dg_cli, "check", "defs"], cwd=PROJECT, capture_output=True, text=True, env=env,
                             timeout=280)
    assert checked.returncode == 0, checked.stderr[-2000:]
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr
    listed = subprocess.run([dg_cli, "list", "defs", "--json"], cwd=PROJECT, capture_output=True, text=True,
                            env=env, timeout=280)
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert "thought_industries_sync" in listed.stdout and "catalog_sources_sensor" in listed.stdout


def test_payload_assets_one_per_vendor_with_metadata(sample_sources_file):
    from course_pipeline.defs.payload_assets import vendor_payloads

    instance = dg.DagsterInstance.ephemeral()
    register_sources(instance, CatalogSources(sources_file=str(sample_sources_file)).all())
    result = dg.materialize([raw_catalog, valid_catalog, vendor_payloads], partition_key="northwind_academy",
                            instance=instance,
                            resources={"catalog_sources": CatalogSources(sources_file=str(sample_sources_file))})
    assert result.success
    events = {e.asset_key.path[-1]: {k: v.value for k, v in e.metadata.items()}
              for e in result.asset_materializations_for_node("vendor_payloads")}
    assert set(events) == {"highlevel_payloads", "kombo_payloads", "stackone_payloads", "thought_industries_payloads"}
    assert events["highlevel_payloads"]["items"] == 3 and events["highlevel_payloads"]["rejects"] == 1
    assert "material_type" in events["highlevel_payloads"]["rejected_courses"]
    assert events["kombo_payloads"]["sample_payload"]["origin_id"] == "NW-101"


def test_a_broken_source_fails_its_own_partition_in_one_line_and_the_others_run(tmp_path):
    from broken_sources import mixed_sources

    from course_pipeline.catalog.sources import read_sources
    from course_pipeline.defs.runner import _failure

    sources_file = mixed_sources(tmp_path)
    resources = {"catalog_sources": CatalogSources(sources_file=str(sources_file))}
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(catalog_partitions.name, ["missing", "good"])  # "missing" was fine once
    broken = dg.materialize([raw_catalog, valid_catalog], partition_key="missing", instance=instance,
                            resources=resources, raise_on_error=False)
    assert not broken.success
    (failure,) = [e for e in broken.all_events if e.is_step_failure]
    assert failure.event_specific_data.error.cls_name == "Failure"
    assert _failure(broken) == read_sources(sources_file).broken[0].error
    assert not [e for e in broken.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    good = dg.materialize([raw_catalog, valid_catalog], partition_key="good", instance=instance,
                          resources=resources, raise_on_error=False)
    assert good.success and metadata(good, "valid_catalog")["valid/courses"] == 1


def test_the_code_location_loads_and_its_sensor_ticks_with_broken_sources(tmp_path, monkeypatch):
    from broken_sources import mixed_sources

    from course_pipeline.defs.definitions import build_defs

    monkeypatch.setenv("COURSE_PIPELINE_SOURCES", str(mixed_sources(tmp_path)))  # what the UI's location reads
    defs = build_defs()
    dg.Definitions.validate_loadable(defs)
    sensor = defs.resolve_sensor_def("catalog_sources_sensor")
    context = dg.build_sensor_context(instance=dg.DagsterInstance.ephemeral(),
                                      resources={"catalog_sources": defs.resources["catalog_sources"]})
    result = sensor(context)
    assert [r.partition_key for r in result.run_requests] == ["good"]
    assert [list(r.partition_keys) for r in result.dynamic_partitions_requests] == [["good"]]


def test_a_courses_path_matching_nothing_stops_the_run_before_validation(sources):
    from course_pipeline.defs.runner import _failure

    (sources.dir / "export.json").write_text(json.dumps({"items": [{"id": 1, "title": "One"}]}))
    sources.yaml([{"name": "cms", "format": "cms_json", "path": "export.json",
                   "tables": {"courses": {"path": "data", "columns": {"course_id": "id", "title": "title"}}}}])
    result = materialize(sources.dir / "sources.yaml", "cms")
    assert not result.success
    assert not checks(result)["tables_readable"].passed
    assert result.asset_materializations_for_node("valid_catalog") == []
    assert _failure(result) == ("source 'cms' table 'courses': courses path 'data' matched nothing in export.json: "
                                "the document has no key 'data' (keys: items)")
