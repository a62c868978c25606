"""The sync assets as the UI and `course-pipeline sync` run them: metadata, checks, dry run, report."""

from __future__ import annotations

import json

import dagster as dg
import pytest
from sync_support import FAST, FAST_ENV, Catalog

from course_pipeline.cli import main
from course_pipeline.defs.definitions import ASSETS, build_resources, sync_selection
from course_pipeline.defs.partitions import register_sources
from course_pipeline.defs.resources import CatalogSources
from course_pipeline.sandbox import SandboxConfig, SandboxServer

VENDORS = ["highlevel", "kombo", "stackone", "thought_industries"]


@pytest.fixture
def setup(tmp_path, monkeypatch):
    folder = tmp_path / "catalog"
    folder.mkdir()
    catalog = Catalog(folder, n=10)
    catalog.write()
    for key, value in FAST_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("COURSE_PIPELINE_LEDGER_URL", f"sqlite:///{tmp_path / 'ledger.db'}")
    with SandboxServer(SandboxConfig(**FAST)) as sandbox:
        monkeypatch.setenv("COURSE_PIPELINE_SANDBOX_URL", sandbox.url)
        instance = dg.DagsterInstance.ephemeral()
        register_sources(instance, CatalogSources(sources_file=str(catalog.sources_file)).all())
        yield catalog, sandbox, instance


def run(catalog, instance, run_config=None):
    resources = build_resources(sources_file=str(catalog.sources_file))
    return dg.materialize(ASSETS, selection=sync_selection(VENDORS), partition_key="shop", instance=instance,
                          resources=resources, run_config=run_config or {})


def metadata(result, node):
    return {k: v.value for k, v in result.asset_materializations_for_node(node)[-1].metadata.items()}


def test_sync_assets_record_counts_and_report_lineage(setup):
    catalog, sandbox, instance = setup
    result = run(catalog, instance)
    assert result.success
    for vendor in VENDORS:
        meta = metadata(result, f"{vendor}_sync")
        assert meta["count/created"] == 10 and meta["requests"] > 0 and meta["throttled_429"] == 0
        assert meta["failures"] == "No failed or unknown items."
    checks = {(e.asset_key.path[-1], e.check_name): e.passed for e in result.get_asset_check_evaluations()}
    assert checks[("kombo_sync", "no_failed_items")]
    report = result.output_for_node("sync_report")
    assert len(report) == 40 and set(report["status"]) == {"created"}
    row = report[(report["vendor"] == "thought_industries") & (report["course_id"] == "C002")].iloc[0]
    assert (row["title"], row["source_file"], row["source_row"]) == ("Course 2", "courses.csv", 4)
    assert row["vendor_id"] in {c["id"] for c in sandbox.state()["vendors"]["thought_industries"]["courses"]}
    assert "created" in metadata(result, "sync_report")["outcomes_by_vendor"]


def test_dry_run_config_plans_without_sending(setup):
    catalog, sandbox, instance = setup
    config = {"ops": {f"{v}_sync": {"config": {"dry_run": True}} for v in VENDORS}}
    result = run(catalog, instance, config)
    assert result.success
    assert metadata(result, "stackone_sync")["count/created"] == 10
    assert metadata(result, "stackone_sync")["requests"] == 0
    assert all(v["counters"]["requests"] == 0 for v in sandbox.state()["vendors"].values())
    assert result.output_for_node("stackone_sync")["status"].eq("created").all()


def test_cli_sync_and_plan_print_the_documented_json(setup, tmp_path, monkeypatch, capsys):
    catalog, sandbox, _ = setup
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    assert main(["plan", str(catalog.sources_file), "--json"]) == 0
    planned = json.loads(capsys.readouterr().out)
    assert planned["vendors"]["kombo"]["created"] == 10 and planned["vendors"]["kombo"]["requests"] == 0
    assert main(["sync", str(catalog.sources_file), "--json"]) == 0
    synced = json.loads(capsys.readouterr().out)["vendors"]
    assert set(synced) == set(VENDORS)
    for counts in synced.values():
        assert set(counts) == {"created", "updated", "unchanged", "deactivated", "orphaned", "rejected", "failed",
                               "unknown", "requests", "throttled"}
        assert counts["created"] == 10
    assert main(["sync", str(catalog.sources_file), "--vendor", "stackone", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)["vendors"]
    assert list(again) == ["stackone"] and again["stackone"]["unchanged"] == 10 and again["stackone"]["requests"] == 0
