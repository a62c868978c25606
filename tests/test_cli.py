"""course-pipeline validate: tables for people, JSON for scripts, exit codes for CI."""

from __future__ import annotations

import json

import pytest
import yaml
from broken_sources import BROKEN_LINES, assert_broken_reported, mixed_sources

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


def test_broken_sources_are_reported_and_the_good_one_is_validated(tmp_path, capsys):
    assert main(["validate", str(mixed_sources(tmp_path))]) == 2
    out, err = capsys.readouterr()
    assert_broken_reported([line.removeprefix("error: ") for line in err.strip().splitlines()])
    assert "== good" in out and "== missing" not in out
    assert main(["validate", str(tmp_path / "sources.yaml"), "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert_broken_reported([e["error"] for e in doc["errors"]])
    assert [e["source"] for e in doc["errors"]] == list(BROKEN_LINES)
    courses = next(t for t in doc["tables"] if t["table"] == "courses")
    assert (courses["source"], courses["valid"]) == ("good", 1)


def test_only_the_named_source_is_looked_at(tmp_path, capsys):
    sources_file = str(mixed_sources(tmp_path))
    assert main(["validate", sources_file, "--source", "good"]) == 0
    assert capsys.readouterr().err == ""
    assert main(["payloads", sources_file, "--source", "good", "--vendor", "kombo"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and json.loads(out)["items"][0]["origin_id"] == "C1"
    assert main(["validate", sources_file, "--source", "missing"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: source 'missing'") and "nope.csv" in err and len(err.strip().splitlines()) == 1
    assert main(["payloads", sources_file, "--source", "folder", "--vendor", "kombo"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: source 'folder'") and "is a folder" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("text, fragment", [
    ("sources: [name: x\n", "not valid YAML"),
    ("sources: {x: 1}\n", "must hold a list under the key 'sources'"),
])
def test_a_sources_file_that_cannot_be_read_fails_whole(tmp_path, capsys, text, fragment):
    (tmp_path / "sources.yaml").write_text(text)
    for command in ("validate", "plan", "sync"):
        assert main([command, str(tmp_path / "sources.yaml")]) == 2
        out, err = capsys.readouterr()
        assert err.startswith("error:") and fragment in err and out == "", (command, out, err)


def test_a_name_given_twice_is_one_broken_source(tmp_path, capsys):
    (tmp_path / "a.csv").write_text("course_id,title\nC1,One\n", encoding="utf-8")
    entries = [{"name": n, "format": "csv", "path": "a.csv", "tables": {"courses": {}}} for n in ("dup", "ok", "dup")]
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump({"sources": entries}))
    assert main(["validate", str(tmp_path / "sources.yaml")]) == 2
    out, err = capsys.readouterr()
    assert err.strip().splitlines() == ["error: source 'dup': the name is given to more than one source "
                                        "(sources[0], sources[2]); source names must be unique"]
    assert "== ok" in out and "== dup" not in out


def test_plan_reports_broken_sources_and_plans_the_good_one(env, tmp_path, capsys):
    assert main(["plan", str(mixed_sources(tmp_path)), "--json"]) == 2
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert list(doc["failed_sources"]) == list(BROKEN_LINES)
    assert_broken_reported(list(doc["failed_sources"].values()))
    assert {v: c["created"] for v, c in doc["vendors"].items()} == dict.fromkeys(doc["vendors"], 1)
    assert all(c["requests"] == 0 for c in doc["vendors"].values())  # a plan sends nothing
    assert "Traceback" not in err


def test_sync_reports_broken_sources_and_syncs_the_good_one(env, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    assert main(["sync", str(mixed_sources(tmp_path)), "--vendor", "thought_industries"]) == 2
    out, err = capsys.readouterr()
    failed = [line.strip() for line in out.splitlines() if ": failed: " in line]
    assert [line.split(":")[0] for line in failed] == list(BROKEN_LINES)
    assert_broken_reported([line.split(": failed: ", 1)[1] for line in failed])
    assert "Traceback" not in err and "Traceback" not in out
    assert env.state()["vendors"]["thought_industries"]["created_per_key"] == {"C1": 1}
