"""course-pipeline validate: tables for people, JSON for scripts, exit codes for CI; unknowns and resolve
--from-file: the bulk path that settles HighLevel unknowns."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
import yaml
from broken_sources import BROKEN_LINES, assert_broken_reported, mixed_sources
from sync_support import created, sync

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
    code = main(["payloads", str(sample_sources_file), "--source", "northwind_academy", "--vendor", "highlevel",
                 "--lines"])
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


# ------------------------------------------------------------- unknowns, and resolve --from-file

def read_rows(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def write_rows(path, rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_highlevel_unknowns_are_listed_marked_and_settled_in_one_command(catalog, env, instance, ledger, tmp_path,
                                                                          capsys):
    """The fault run leaves HighLevel unknowns; the operator lists them, marks each from what HighLevel
    holds, settles them all at once; a clean rerun then leaves every course there exactly once."""
    env.set_faults("highlevel", script=["reset", "500", "reset"])  # 3 of 6 imports of 5: answers lost
    first = sync(catalog, instance, vendors=("highlevel",))["highlevel"]
    assert first.counts["unknown"] == 15
    env.set_faults("highlevel")

    listed = tmp_path / "unknowns.csv"
    assert main(["unknowns", str(catalog.sources_file), "--vendor", "highlevel", "--output", str(listed)]) == 0
    assert "15 items whose outcome is unknown (highlevel 15)" in capsys.readouterr().err
    rows = read_rows(listed)
    assert list(rows[0]) == ["vendor", "account", "source", "course_id", "title", "status", "sent_at", "run_id",
                             "landed", "vendor_id"]
    assert len(rows) == 15 and {(r["vendor"], r["account"], r["source"], r["status"], r["run_id"], r["landed"])
                                for r in rows} == {("highlevel", first.account, "shop", "unknown", first.run_id, "")}
    assert all(r["title"] == f"Course {int(r['course_id'][1:])}" for r in rows)
    assert all(dt.datetime.fromisoformat(r["sent_at"]).tzinfo is not None for r in rows)

    held = env.state()["vendors"]["highlevel"]["created_per_key"]  # what the operator sees in HighLevel
    for row in rows:
        row["landed"] = "yes" if row["title"] in held else "no"
    write_rows(listed, rows)
    assert main(["resolve", "highlevel", "--from-file", str(listed)]) == 0
    out = capsys.readouterr().out
    assert "10 settled landed; 5 settled not landed" in out and "0 not unknown" in out

    rerun = sync(catalog, instance, vendors=("highlevel",))["highlevel"]
    assert (rerun.counts["queued"], rerun.counts["unchanged"], rerun.counts["unknown"]) == (5, 25, 0)
    assert env.state()["vendors"]["highlevel"]["created_per_key"] == {f"Course {i}": 1 for i in range(30)}
    states = ledger.states("highlevel", first.account)
    assert {states[r["course_id"]].status for r in rows if r["landed"] == "yes"} == {"reconciled"}


def test_resolve_from_file_settles_nothing_when_a_row_is_wrong(catalog, env, instance, ledger, tmp_path, capsys,
                                                               monkeypatch):
    monkeypatch.setenv("HIGHLEVEL_BATCH_SIZE", "30")
    env.set_faults("highlevel", reset_rate=1.0)
    first = sync(catalog, instance, vendors=("highlevel",))["highlevel"]
    env.set_faults("highlevel")
    catalog.dropped = {"C029"}  # gone from the catalog since: no title to show
    catalog.write()

    assert main(["unknowns", str(catalog.sources_file)]) == 0  # every enabled vendor, to stdout
    out, err = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 30 and {r["vendor"] for r in rows} == {"highlevel"} and "highlevel 30" in err
    assert next(r for r in rows if r["course_id"] == "C029")["title"] == ""
    listed = tmp_path / "marked.csv"

    def resolve(edits: dict[str, dict], extra: list[dict] = ()) -> tuple[int, str, str]:
        write_rows(listed, [{**r, **edits.get(r["course_id"], {})} for r in rows] + list(extra))
        code = main(["resolve", "highlevel", "--from-file", str(listed)])
        return code, *capsys.readouterr()

    def unknown() -> set[str]:
        return {cid for cid, s in ledger.states("highlevel", first.account).items() if s.status == "unknown"}

    for edits, message in [({"C000": {"landed": "yes"}, "C001": {"landed": "maybe"}}, "row 3 (C001): landed must be"),
                           ({"C002": {"landed": "no", "account": "another-location"}}, "row 4: account"),
                           ({"C003": {"landed": "yes"}, "C000": {"course_id": "C003", "landed": "no"}},
                            "C003 is settled on row 2 already")]:
        code, _, err = resolve(edits)
        assert code == 2 and err.startswith("error: ") and str(listed) in err and message in err, err
        assert len(err.strip().splitlines()) == 1 and unknown() == {f"C{i:03d}" for i in range(30)}  # nothing settled

    kombo_row = {**rows[0], "vendor": "kombo", "account": "x", "landed": "yes"}
    code, out, _ = resolve({"C000": {"landed": "Yes", "vendor_id": "hl-0"}, "C001": {"landed": "NO"},
                            "C003": {"landed": "landed"}, "C004": {"landed": "true", "run_id": "another-run"}},
                           [kombo_row])
    assert code == 0, out
    assert ("2 settled landed; 1 settled not landed (the next sync sends them); 26 left blank (still unknown); "
            "1 not unknown (settled or sent again since) or not found; 1 rows of other vendors left alone") in out
    states = ledger.states("highlevel", first.account)
    assert (states["C000"].status, states["C000"].vendor_id, states["C001"].status) == ("reconciled", "hl-0", "failed")
    assert states["C003"].status == "reconciled" and states["C004"].status == "unknown"  # listed for another run
    code, out, _ = resolve({"C000": {"landed": "yes"}})  # settled already: left as it is
    assert code == 0 and "0 settled landed" in out and "1 not unknown" in out

    for argv in (["resolve", "highlevel", "C000", "--from-file", str(listed)], ["resolve", "highlevel", "--landed"],
                 ["unknowns", str(catalog.sources_file), "--source", "nope"],
                 ["resolve", "highlevel", "--from-file", str(tmp_path / "missing.csv")]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("error:") and len(err.strip().splitlines()) == 1 and "Traceback" not in err, (argv, err)


def test_an_item_a_dead_run_left_in_flight_keeps_the_run_and_time_it_was_sent(catalog, env, instance, ledger,
                                                                                tmp_path, capsys):
    first = sync(catalog, instance, vendors=("highlevel",))["highlevel"]
    ledger.begin("highlevel", first.account, "shop", "dead-run", [("C007", "a-hash")])  # written ahead, then killed

    def listed() -> list[dict]:
        assert main(["unknowns", str(catalog.sources_file), "--vendor", "highlevel", "--source", "shop"]) == 0
        return list(csv.DictReader(io.StringIO(capsys.readouterr().out)))

    (before,) = listed()
    assert (before["course_id"], before["title"], before["status"], before["run_id"]) == (
        "C007", "Course 7", "in_flight", "dead-run")
    held = sync(catalog, instance, vendors=("highlevel",))["highlevel"]  # held: it may have landed
    assert held.counts["unknown"] == 1 and held.requests == 0
    (after,) = listed()
    assert (after["status"], after["run_id"], after["sent_at"]) == ("unknown", "dead-run", before["sent_at"])


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
    assert {v: c[created(v)] for v, c in doc["vendors"].items()} == dict.fromkeys(doc["vendors"], 1)
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
