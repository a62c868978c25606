"""course-pipeline validate: tables for people, JSON for scripts, exit codes for CI."""

from __future__ import annotations

import json

from course_pipeline.cli import main


def test_validate_all_samples_reports_rejects_with_exit_1(sample_sources_file, capsys):
    assert main(["validate", str(sample_sources_file)]) == 1
    out = capsys.readouterr().out
    assert "== northwind_academy" in out and "== partner_kurse" in out and "== cms_export" in out
    assert "held_back" in out and "livestream" in out


def test_validate_json_has_tables_and_rejects(sample_sources_file, capsys):
    assert main(["validate", str(sample_sources_file), "--source", "partner_kurse", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) >= {"tables", "rejects"}
    courses = next(t for t in doc["tables"] if t["table"] == "courses")
    assert (courses["rows"], courses["valid"], courses["rejected"]) == (8, 5, 3)
    assert {r["key"] for r in doc["rejects"]} == {"P-2002", "P-2005", "P-2006"}
    assert all({"file", "row", "column", "rule", "value", "message"} <= set(r) for r in doc["rejects"])


def test_validate_clean_source_exits_0(sources, capsys):
    source = sources.csv("course_id,title\nC1,Intro\n")
    assert main(["validate", str(sources.dir / "sources.yaml"), "--source", source.name]) == 0


def test_unreadable_source_exits_2_with_a_message_not_a_traceback(sources, capsys):
    sources.csv("")
    assert main(["validate", str(sources.dir / "sources.yaml")]) == 2
    out = capsys.readouterr().out
    assert "cannot read courses" in out and "is empty" in out


def test_bad_config_exits_2_on_stderr(tmp_path, capsys):
    (tmp_path / "sources.yaml").write_text("sources:\n  - name: x\n    format: csv\n    path: nope.csv\n"
                                           "    tables: {courses: {}}\n")
    assert main(["validate", str(tmp_path / "sources.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: source 'x'") and "file not found" in err and "Traceback" not in err


def test_unknown_source_exits_2(sample_sources_file, capsys):
    assert main(["validate", str(sample_sources_file), "--source", "nope"]) == 2
    assert "known sources" in capsys.readouterr().err


def test_payloads_prints_request_bodies_and_rejects_to_stderr(sample_sources_file, capsys):
    code = main(["payloads", str(sample_sources_file), "--source", "northwind_academy", "--vendor", "highlevel"])
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and len(lines) == 3
    assert all(set(body) == {"locationId", "products"} and len(body["products"]) == 1 for body in lines)
    rejected = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert [(r["rejected"], r["rule"]) for r in rejected] == [("NW-101", "material_type")]
    assert "rejected by validation" in err


def test_payloads_unknown_vendor_exits_2(sample_sources_file, capsys):
    assert main(["payloads", str(sample_sources_file), "--source", "cms_export", "--vendor", "moodle"]) == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'moodle'" in err and "thought_industries" in err and len(err.strip().splitlines()) == 1


def test_user_errors_exit_2_with_one_line_and_no_traceback(sample_sources_file, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COURSE_PIPELINE_STATE_DIR", str(tmp_path / "state"))
    cases = [["resolve", "moodle", "C1", "--landed"], ["plan", str(sample_sources_file), "--source", "nope"],
             ["validate", str(tmp_path / "missing.yaml")], ["sync", str(sample_sources_file), "--bogus"],
             ["resolve", "highlevel", "no-such-course", "--landed"]]
    for argv in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("error:") and len(err.strip().splitlines()) == 1 and "Traceback" not in err, (argv, err)
