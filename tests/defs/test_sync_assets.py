"""The sync assets as the UI and `course-pipeline sync` run them: metadata, checks, dry run, report."""

from __future__ import annotations

import json

from sync_support import created

from course_pipeline.catalog.sources import load_sources
from course_pipeline.cli import main
from course_pipeline.defs.runner import run_sync
from course_pipeline.vendors import VENDOR_NAMES


def run(catalog, instance, **options):
    catalog.n = 10
    catalog.write()
    outcome = run_sync(catalog.sources_file, load_sources(catalog.sources_file), list(VENDOR_NAMES),
                       instance=instance, **options)
    return outcome.runs[catalog.name]


def metadata(result, node):
    return {k: v.value for k, v in result.asset_materializations_for_node(node)[-1].metadata.items()}


def test_sync_assets_record_counts_and_report_lineage(env, catalog, instance):
    result = run(catalog, instance)
    assert result.success
    for vendor in VENDOR_NAMES:
        meta = metadata(result, f"{vendor}_sync")
        assert meta["this_run"][created(vendor)] == 10 and meta["requests"] > 0 and meta["throttled_429"] == 0
        assert meta["sent"] == 10 and meta["landed"] == 10 and meta["open_items"] == 0
        assert meta["failures"] == "No failed or unknown items."
    checks = {(e.asset_key.path[-1], e.check_name): e for e in result.get_asset_check_evaluations()}
    assert checks[("kombo_sync", "no_failed_items")].passed
    assert checks[("kombo_sync", "no_failed_items")].partition == catalog.name  # a result per catalog
    report = result.output_for_node("sync_report")
    assert len(report) == 40 and set(report["state"]) == {"landed"}  # HighLevel's queued import is held as ours
    row = report[(report["vendor"] == "thought_industries") & (report["course_id"] == "C002")].iloc[0]
    assert (row["title"], row["source_file"], row["source_row"]) == ("Course 2", "courses.csv", 4)
    assert row["vendor_id"] in {c["id"] for c in env.state()["vendors"]["thought_industries"]["courses"]}
    report_meta = metadata(result, "sync_report")
    assert "landed" in report_meta["state_by_vendor"] and report_meta["failed_or_unknown"] == 0
    assert report_meta["state_chart"].startswith("![courses by state at each vendor](data:image/png;base64,")


def test_dry_run_config_plans_without_sending(env, catalog, instance):
    result = run(catalog, instance, dry_run=True)
    assert result.success
    assert metadata(result, "stackone_sync")["this_run"]["created"] == 10
    assert metadata(result, "stackone_sync")["requests"] == 0
    assert all(v["counters"]["requests"] == 0 for v in env.state()["vendors"].values())
    assert result.output_for_node("stackone_sync")["status"].eq("created").all()


def test_cli_sync_and_plan_print_the_documented_json(env, catalog, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    catalog.n = 10
    sources_file = str(catalog.write())
    assert main(["plan", sources_file, "--json"]) == 0
    planned = json.loads(capsys.readouterr().out)
    assert planned["vendors"]["kombo"]["created"] == 10 and planned["vendors"]["kombo"]["requests"] == 0
    assert main(["sync", sources_file, "--json"]) == 0
    synced = json.loads(capsys.readouterr().out)["vendors"]
    assert set(synced) == set(VENDOR_NAMES)
    for vendor, counts in synced.items():
        assert set(counts) == {"created", "queued", "updated", "reconciled", "accepted", "unchanged", "deactivated",
                               "orphaned", "rejected", "failed", "unknown", "requests", "throttled"}
        assert counts[created(vendor)] == 10
    assert main(["sync", sources_file, "--vendor", "stackone", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)["vendors"]
    assert list(again) == ["stackone"] and again["stackone"]["unchanged"] == 10 and again["stackone"]["requests"] == 0
    assert main(["sync", sources_file, "--dry-run", "--json"]) == 0  # the same as plan
    assert json.loads(capsys.readouterr().out)["vendors"]["kombo"]["unchanged"] == 10


def test_plan_from_another_directory_finds_the_same_ledger(env, catalog, tmp_path, monkeypatch, capsys):
    """No COURSE_PIPELINE_LEDGER_URL, no state folder set: the ledger is the project's (here a stand-in
    project folder), wherever the command runs."""
    from course_pipeline import paths
    from course_pipeline.ledger import ledger_url

    project = tmp_path / "project"
    monkeypatch.setattr(paths, "project_root", lambda: project)
    monkeypatch.delenv("COURSE_PIPELINE_LEDGER_URL")
    monkeypatch.delenv("COURSE_PIPELINE_STATE_DIR")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    catalog.n = 10
    sources_file = str(catalog.write())
    assert main(["sync", sources_file, "--vendor", "stackone", "--json"]) == 0
    capsys.readouterr()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert ledger_url() == f"sqlite:///{project / 'data' / 'state' / 'ledger.db'}"
    assert main(["plan", sources_file, "--vendor", "stackone", "--json"]) == 0
    planned = json.loads(capsys.readouterr().out)
    assert planned["vendors"]["stackone"]["created"] == 0 and planned["vendors"]["stackone"]["unchanged"] == 10
    assert planned["ledger"] == str(project / "data" / "state" / "ledger.db")
    assert not (elsewhere / "data").exists()


def test_a_run_stopped_by_a_blocking_check_is_one_line_without_a_traceback(env, tmp_path, capfd):
    (tmp_path / "src.csv").write_text("", encoding="utf-8")
    (tmp_path / "sources.yaml").write_text('sources: [{name: src, format: csv, path: src.csv, tables: {courses: {}}}]')
    assert main(["plan", str(tmp_path / "sources.yaml")]) == 2
    out, err = capfd.readouterr()
    (line,) = [line for line in out.splitlines() if line.strip().startswith("src:")]
    assert line.endswith(": src.csv is empty: expected a header row and rows of courses")
    assert "Traceback" not in out + err and "DagsterAssetCheckFailedError" not in out + err
