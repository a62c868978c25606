"""The operator's view is the current state, not the last run: after faults and `retry_failed` the
checks, `sync_report` and `course-pipeline status` still show the open HighLevel unknown, naming the
catalog and the course; a change HighLevel cannot take warns on every run until a person settles it."""

from __future__ import annotations

import json

import pytest
from sync_support import Catalog

from course_pipeline.catalog.sources import load_sources
from course_pipeline.cli import EXIT_OK, EXIT_REJECTS, main
from course_pipeline.defs.runner import run_sync

VENDORS = ["highlevel", "kombo"]


def run(catalog: Catalog, instance, **options):
    catalog.write()
    outcome = run_sync(catalog.sources_file, load_sources(catalog.sources_file), VENDORS, instance=instance,
                       **options)
    result = outcome.runs[catalog.name]
    assert result.success, outcome.failed_sources
    checks = {(e.asset_key.path[-1], e.check_name): e for e in result.get_asset_check_evaluations()}
    return result, checks


@pytest.fixture
def one_worker(monkeypatch):
    """One request at a time and one attempt each, so the sandbox's scripted faults hit known batches."""
    for vendor in ("HIGHLEVEL", "KOMBO"):
        monkeypatch.setenv(f"{vendor}_WORKERS", "1")
        monkeypatch.setenv(f"{vendor}_ATTEMPTS", "1")


def test_retry_failed_keeps_showing_the_open_highlevel_unknown(env, catalog, instance, one_worker, capsys):
    catalog.n = 12  # HighLevel imports 5 a request (HIGHLEVEL_BATCH_SIZE): C000-04, C005-09, C010-11
    env.set_faults("highlevel", script=["none", "none", "reset"])  # the third import landed, its answer lost
    env.set_faults("kombo", script=["500"])  # Kombo's first batch (C000-C009): a 500 that may have been processed
    first, checks = run(catalog, instance)
    assert not checks[("highlevel_sync", "no_failed_items")].passed
    assert not checks[("kombo_sync", "no_failed_items")].passed

    retried, checks = run(catalog, instance, only_failed=True)  # the retry_failed job's config
    assert checks[("kombo_sync", "no_failed_items")].passed  # Kombo's failures were sent again and landed
    check = checks[("highlevel_sync", "no_failed_items")]
    assert not check.passed and check.partition == catalog.name
    assert "catalog shop" in check.description and "C010, C011" in check.description
    assert check.metadata["unknown"].value == 2 and "C010" in check.metadata["courses"].value
    hl = {k: v.value for k, v in retried.asset_materializations_for_node("highlevel_sync")[-1].metadata.items()}
    assert hl["sent"] == 0 and hl["open_items"] == 2  # this run sent nothing to HighLevel; two are still open

    report = retried.output_for_node("sync_report")  # the whole catalog, not the retried rows only
    assert len(report) == 24
    unknown = report[report["state"] == "unknown"]
    assert list(unknown["course_id"]) == ["C010", "C011"] and set(unknown["vendor"]) == {"highlevel"}
    assert list(unknown["title"]) == ["Course 10", "Course 11"] and list(unknown["source_row"]) == [12, 13]
    kombo = report[report["vendor"] == "kombo"]
    assert set(kombo["state"]) == {"landed"} and kombo["vendor_id"].notna().all()
    report_meta = retried.asset_materializations_for_node("sync_report")[-1].metadata
    assert report_meta["failed_or_unknown"].value == 2 and "C011" in report_meta["needs_action"].value

    capsys.readouterr()
    assert main(["status", str(catalog.sources_file), "--vendor", "highlevel"]) == EXIT_REJECTS
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "unknown" in line and "C01" in line]
    assert len(lines) == 2 and "Course 10" in lines[0] and "ANSWER_LOST" in lines[0], out
    assert main(["status", "--json", "--all"]) == EXIT_REJECTS
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 24 and {r["state"] for r in rows} == {"landed", "unknown"}

    # C001 at Kombo: a 500 may have been processed (unknown), then the retry found it there (reconciled).
    assert main(["history", "C001"]) == EXIT_OK
    out = capsys.readouterr().out
    kombo = [line.split() for line in out.splitlines() if line.split()[3:4] == ["kombo"]]
    assert [(words[6], words[7]) for words in kombo] == [("unknown", "500"), ("reconciled", "200")], out
    assert all(words[-1] == "courses.csv:3" for words in kombo)


def test_a_change_highlevel_cannot_take_warns_every_run_until_settled(env, catalog, instance, capsys):
    catalog.n = 3
    run(catalog, instance)
    catalog.changed = {"C001": "Course 1, revised"}
    for _ in range(2):  # every run, not only the first after the change
        result, checks = run(catalog, instance)
        check = checks[("highlevel_sync", "changes_landed")]
        assert not check.passed and check.partition == catalog.name
        assert "C001" in check.description and "resolve highlevel COURSE --landed" in check.description
        assert "Course 1, revised" in check.metadata["courses"].value
        assert checks[("kombo_sync", "changes_landed")].passed  # Kombo took the update
        report = result.output_for_node("sync_report").set_index(["vendor", "course_id"])
        assert report.loc[("highlevel", "C001"), "state"] == "not_updated"
        assert report.loc[("kombo", "C001"), "state"] == "landed"
        logged = [e.user_message for e in instance.all_logs(result.run_id) if e.level >= 30]  # warnings
        assert any("highlevel holds an older version" in m and "C001" in m for m in logged), logged
    assert main(["status", "--vendor", "highlevel"]) == EXIT_OK  # not undelivered: an older version is there
    assert "not_updated" in capsys.readouterr().out

    # The operator changed it in HighLevel by hand and says so: the warning ends.
    assert main(["resolve", "highlevel", "C001", "--landed"]) == EXIT_OK
    result, checks = run(catalog, instance)
    assert checks[("highlevel_sync", "changes_landed")].passed
    assert set(result.output_for_node("highlevel_sync")["status"]) == {"unchanged"}  # nothing sent, nothing open
    assert result.output_for_node("sync_report").set_index(["vendor", "course_id"]).loc[
        ("highlevel", "C001"), "state"] == "landed"
