"""Hostile and broken input, each case beside a good source: a clear message and the right exit code
(2: a source cannot be read or configured; 1: rows rejected; 0: fine), quickly, with no traceback."""

from __future__ import annotations

import json
import time
from pathlib import Path

import openpyxl
import pytest
import yaml

from course_pipeline.cli import main

GOOD_CSV = "course_id,title,course_url\nG1,Good course,https://learn.example.com/g/1\n"
SECRET_LINE = "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def csv_entry(name: str, path: str, **settings) -> dict:
    return {"name": name, "format": "csv", "path": path, "tables": {"courses": {}}, **settings}


class Case:
    """A catalog folder with the good source, and what to run."""

    def __init__(self, tmp_path: Path):
        self.root = tmp_path
        self.dir = tmp_path / "catalogs"
        self.dir.mkdir()
        (self.dir / "good.csv").write_text(GOOD_CSV, encoding="utf-8")
        self.entries = [csv_entry("good", "good.csv")]
        self.command = "validate"
        self.source: str | None = None

    def file(self, name: str, content: str | bytes, encoding: str = "utf-8") -> str:
        path = self.dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
        return name

    def add(self, entry: dict) -> None:
        self.entries.append(entry)

    def csv(self, content: str | bytes, encoding: str = "utf-8", **settings) -> None:
        self.add(csv_entry("bad", self.file("bad.csv", content, encoding), **settings))

    def workbook(self, build) -> None:
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "courses"
        ws.append(["course_id", "title"])
        build(wb, ws)
        wb.save(self.dir / "book.xlsx")
        self.add({"name": "bad", "format": "xlsx", "path": "book.xlsx", "tables": {"courses": {}}})

    def payloads(self, vendor: str = "thought_industries") -> None:
        self.command, self.source = "payloads", "bad"
        self.vendor = vendor

    def argv(self, sources_file: Path) -> list[str]:
        if self.command == "payloads":
            return ["payloads", str(sources_file), "--source", self.source, "--vendor", self.vendor]
        return ["validate", str(sources_file), "--json"]

    def sources_text(self) -> str:
        return yaml.safe_dump({"sources": self.entries}, allow_unicode=True)


def _outside(c: Case):
    outside = c.root / "outside"
    outside.mkdir()
    (outside / "secret.env").write_text(SECRET_LINE + "\n", encoding="utf-8")
    c.add(csv_entry("bad", "../outside/secret.env"))


def _symlink(c: Case):
    (c.root / "secret.env").write_text(SECRET_LINE + "\n", encoding="utf-8")
    (c.dir / "link.csv").symlink_to(c.root / "secret.env")
    c.add(csv_entry("bad", "link.csv"))


def _table_path_outside(c: Case):
    (c.root / "lessons.csv").write_text(SECRET_LINE + "\n", encoding="utf-8")
    c.add({"name": "bad", "format": "csv", "path": "good.csv",
           "tables": {"courses": {}, "lessons": {"path": "../lessons.csv"}}})


def _alias_bomb(c: Case):
    c.file("bad.csv", GOOD_CSV)
    levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        levels.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    c.raw_yaml = ("bomb:\n" + "".join(f"  {line}\n" for line in levels)
                  + "sources:\n  - name: bad\n    format: csv\n    path: bad.csv\n"
                    "    tables:\n      courses:\n        columns: {title: *i}\n")


def _alias_expansion(c: Case):
    c.file("bad.csv", GOOD_CSV)
    c.raw_yaml = ("a: &a [" + ",".join(["x"] * 3000) + "]\n"
                  "b: &b [" + ",".join(["*a"] * 40) + "]\n"
                  "sources:\n  - name: bad\n    format: csv\n    path: bad.csv\n    tables: {courses: {}}\n")


def _cms(c: Case, document: bytes | str, **settings):
    name = c.file("cms.json", document)
    c.add({"name": "bad", "format": "cms_json", "path": name, **settings,
           "tables": {"courses": {"path": "data", "columns": {"course_id": "id", "title": "title"}}}})


def _hidden_rows(c: Case):
    def build(wb, ws):
        ws.append(["C1", "Visible"])
        ws.append(["C2", "Hidden"])
        ws.row_dimensions[3].hidden = True
    c.workbook(build)


def _hidden_sheet(c: Case):
    def build(wb, ws):
        ws.append(["C1", "In a hidden sheet"])
        ws.sheet_state = "hidden"
        wb.create_sheet("visible")
    c.workbook(build)


def _aliases_bool(c: Case):
    c.csv("course_id,title,is_free\nC1,Paid course,kostenpflichtig\nC2,Free course,gratis\n",
          conventions={"aliases": {"is_free": {"kostenpflichtig": "false", "gratis": "true"}}})
    c.payloads()


POLISH = "course_id;title\nP1;Zażółć gęślą jaźń\nP2;Łódź i Kraków – kursy\n"
MERGED = ('course_id,title,course_url\n'
          'U1,"Python for Everybody,https://learn.example.com/u/1\n'
          'U2,Data Science,https://learn.example.com/u/2\n'
          'U3,Machine Learning",https://learn.example.com/u/3\n'
          'U4,Statistics,https://learn.example.com/u/4\n')

# id: (build the case, expected exit code, fragments the output must hold)
CASES = {
    "path_outside": (_outside, 2, ["lies outside the folder of the sources file"]),
    "path_absolute": (lambda c: c.add(csv_entry("bad", "/etc/os-release")), 2, ["'/etc/os-release' lies outside"]),
    "path_symlink_outside": (_symlink, 2, ["lies outside"]),
    "table_path_outside": (_table_path_outside, 2, ["tables.lessons.path '../lessons.csv' lies outside"]),
    "path_is_folder": (lambda c: (c.dir.joinpath("sub").mkdir(), c.add(csv_entry("bad", "sub"))), 2,
                       ["is a folder, not a catalog file"]),
    "yaml_alias_bomb": (_alias_bomb, 2, ["more than 50 YAML aliases"]),
    "yaml_alias_expansion": (_alias_expansion, 2, ["expand to more than 100,000 values"]),
    "unknown_limit": (lambda c: c.csv(GOOD_CSV, limits={"cells": 5}), 2, ["unknown key 'cells' in limits"]),
    "bad_limit": (lambda c: c.csv(GOOD_CSV, limits={"columns": -1}), 2, ["limits.columns must be a number"]),
    "json_deep": (lambda c: _cms(c, "[" * 10000 + "]" * 10000), 2,
                  ["nests 10,000 levels deep", "limits.json_depth"]),
    "json_deep_payloads": (lambda c: (_cms(c, '{"data": ' + "[" * 5000 + "]" * 5000 + "}"), c.payloads()), 2,
                           ["source 'bad'", "nests 5,001 levels deep"]),
    "json_depth_setting": (lambda c: _cms(c, json.dumps({"data": [{"id": "C1", "title": {"a": {"b": 1}}}]}),
                                          limits={"json_depth": 3}), 2, ["more than the limit of 3"]),
    "header_50000_columns": (lambda c: c.csv(",".join(f"col{i}" for i in range(50000)) + "\nx\n"), 2,
                             ["columns, more than the limit of 1,000", "limits.columns"]),
    "header_width_setting": (lambda c: c.csv("course_id,title,a,b\nC1,T,1,2\n", limits={"columns": 3}), 2,
                             ["the header has 4 columns, more than the limit of 3"]),
    "cell_2mb": (lambda c: c.csv(f"course_id,title,description\nC1,Big,{'x' * (2 << 20)}\n"), 2,
                 ["column 'description', row 2, holds 2,097,152 characters", "limits.cell_chars"]),
    "cell_2mb_payloads": (lambda c: (c.csv(f"course_id,title,description\nC1,Big,{'x' * (2 << 20)}\n"),
                                     c.payloads("kombo")), 2, ["source 'bad'", "limits.cell_chars"]),
    "cell_xlsx": (lambda c: (c.workbook(lambda wb, ws: ws.append(["C1", "y" * 2000])),
                             c.entries[-1].update(limits={"cell_chars": 1000})), 2, ["holds 2,000 characters"]),
    "file_size": (lambda c: c.csv(GOOD_CSV + "C2,Two,\n" * 200, limits={"file_mb": 0.001}), 2,
                  ["bytes, more than the limit of 1,048 bytes (0.001 MB: limits.file_mb"]),
    "stray_byte": (lambda c: c.csv("course_id,title\nP1,Zażółć\nP2,https://example.com".encode() + b"\xff/x/24\n"),
                   2, ["is UTF-8 except at byte", "encoding:"]),
    "ambiguous_encoding": (lambda c: c.csv("course_id,title\nR1,Привет мир курс обучения\n", "cp1251"), 2,
                           ["cannot tell its text encoding for sure", "cp1251", "set encoding:"]),
    "binary": (lambda c: c.csv(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\xff\xfe"), 2, ["binary data"]),
    "csv_named_xlsx": (lambda c: (c.file("book.xlsx", GOOD_CSV), c.add({"name": "bad", "format": "xlsx",
                                  "path": "book.xlsx", "tables": {"courses": {}}})), 2,
                       ["is it a CSV file with another name? Then set format: csv"]),
    "header_row_past_end": (lambda c: c.add(csv_entry("bad", c.file("bad.csv", "a,b\n" * 49),
                                                      tables={"courses": {"header_row": 50}})), 2,
                            ["bad.csv has 49 lines; header_row 50 is past its end"]),
    "hidden_sheet": (_hidden_sheet, 2, ["sheet 'courses' of book.xlsx is hidden", "hidden: read"]),
    "alias_unknown_column": (lambda c: c.csv(GOOD_CSV, conventions={"aliases": {"colour": {"x": "y"}}}), 2,
                             ["conventions.aliases names column 'colour'"]),
    "nul_in_title": (lambda c: c.csv("course_id,title\nC1,Nul\x00byte\n"), 1,
                     ["control_character", "U+0000"]),
    "ansi_in_title": (lambda c: c.csv("course_id,title\nC1,\x1b[31mRed\x1b[0m\n"), 1,
                      ["control_character", "U+001B"]),
    "bidi_in_title": (lambda c: c.csv("course_id,title\nC1,abc\u202edcba\n"), 1, ["U+202E"]),
    "line_break_in_title": (lambda c: c.csv('course_id,title\nC1,"two\nlines"\n'), 1,
                            ["line_break", "unbalanced quote"]),
    "unbalanced_quote_merges_records": (lambda c: c.csv(MERGED), 1, ["line_break", "may have merged this record"]),
    "unbalanced_quote_at_end": (lambda c: c.csv('course_id,title\nC1,"Never closed\nC2,Two\n'), 2,
                                ["EOF inside string", "an unbalanced quote"]),
    "formula_plain": (lambda c: c.csv('course_id,title\nC1,"=HYPERLINK(""http://x"",""y"")"\n'), 1,
                      ["formula_not_evaluated"]),
    "formula_plus": (lambda c: c.csv('course_id,title\nC1,"=+HYPERLINK(""http://x"")"\n'), 1,
                     ["formula_not_evaluated"]),
    "formula_space": (lambda c: c.csv('course_id,title\nC1,"= HYPERLINK(""http://x"")"\n'), 1,
                      ["formula_not_evaluated"]),
    "formula_at_after_equals": (lambda c: c.csv("course_id,title\nC1,=@SUM(A1:A2)\n"), 1, ["formula_not_evaluated"]),
    "formula_dde": (lambda c: c.csv("course_id,title\nC1,+cmd|' /C calc'!A0\n"), 1, ["formula_not_evaluated"]),
    "formula_arithmetic_dde": (lambda c: c.csv("course_id,title\nC1,-2+3+cmd|' /C calc'!A0\n"), 1,
                               ["formula_not_evaluated"]),
    "formula_at": (lambda c: c.csv('course_id,title\nC1,"@SUM(1+1)*cmd|\' /C calc\'!A0"\n'), 1,
                   ["formula_not_evaluated"]),
    "formula_fullwidth": (lambda c: c.csv("course_id,title\nC1,＝HYPERLINK(\"x\")\n"), 1, ["formula_not_evaluated"]),
}


def run(case: Case, sources_file: Path, capsys) -> tuple[int, str]:
    started = time.monotonic()
    code = main(case.argv(sources_file))
    assert time.monotonic() - started < 20, "hostile input must end quickly"
    out, err = capsys.readouterr()
    return code, out + err


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input_ends_in_a_clear_error(name, tmp_path, capsys):
    build, expected_code, fragments = CASES[name]
    case = Case(tmp_path)
    build(case)
    sources_file = case.dir / "sources.yaml"
    sources_file.write_text(getattr(case, "raw_yaml", None) or case.sources_text(), encoding="utf-8")
    code, output = run(case, sources_file, capsys)
    assert code == expected_code, output[-2000:]
    for fragment in fragments:
        assert fragment in output, output[-2000:]
    assert "Traceback" not in output and "COURSE_PIPELINE_DEBUG" not in output
    assert "wJalr" not in output  # no file content quoted
    if expected_code == 1:  # the good source beside it is still read and valid
        tables = json.loads(output[:output.rindex("}") + 1])["tables"]
        assert {"source": "good", "valid": 1} == {k: v for k, v in tables[0].items() if k in ("source", "valid")}


def good_and(case_build, tmp_path, capsys, *argv) -> tuple[int, str]:
    case = Case(tmp_path)
    case_build(case)
    sources_file = case.dir / "sources.yaml"
    sources_file.write_text(case.sources_text(), encoding="utf-8")
    code = main([argv[0], str(sources_file), *argv[1:]])
    out, err = capsys.readouterr()
    return code, out + err


def valid_titles(output: str, source: str = "bad") -> tuple[dict, dict]:
    doc = json.loads(output)
    return {t["table"]: t for t in doc["tables"] if t["source"] == source}, doc


@pytest.mark.parametrize("text, encoding", [(POLISH, "cp1250"), ("course_id,title\nK1,Größe – Straße\n", "utf-32"),
                                            ("course_id,title\nK1,Größe – Straße\n", "utf-16"),
                                            ("course_id,title\nF1,Élève très motivé à l'école\nF2,Noël\n", "latin-1")])
def test_encodings_are_read_right_with_no_setting(text, encoding, tmp_path, capsys):
    code, output = good_and(lambda c: c.csv(text, encoding), tmp_path, capsys, "validate", "--json")
    assert code == 0, output
    expected = [line.split(text[9])[1] for line in text.splitlines()[1:]]
    from course_pipeline import pipeline
    from course_pipeline.catalog.sources import read_sources

    source = read_sources(tmp_path / "catalogs" / "sources.yaml").get("bad")
    assert pipeline.read(source).valid["courses"]["title"].tolist() == expected


def test_hidden_rows_are_skipped_and_said(tmp_path, capsys):
    code, output = good_and(_hidden_rows, tmp_path, capsys, "validate", "--json")
    tables, doc = valid_titles(output)
    assert code == 0 and tables["courses"]["valid"] == 1 and tables["courses"]["hidden_skipped"] == 1
    assert any("1 hidden row(s) of sheet 'courses' skipped (rows 3)" in n["note"] for n in doc["notes"])


def test_hidden_rows_are_read_when_set_and_said(tmp_path, capsys):
    def build(c):
        _hidden_rows(c)
        c.entries[-1]["hidden"] = "read"
    code, output = good_and(build, tmp_path, capsys, "validate", "--json")
    tables, doc = valid_titles(output)
    assert code == 0 and tables["courses"]["valid"] == 2
    assert any("read because hidden: read" in n["note"] for n in doc["notes"])


def test_blank_records_are_counted(tmp_path, capsys):
    code, output = good_and(lambda c: c.csv("course_id,title\nC1,One\n,\n\n,\nC2,Two\n"), tmp_path, capsys,
                            "validate", "--json")
    tables, doc = valid_titles(output)
    assert code == 0 and tables["courses"]["blank_skipped"] == 3 and tables["courses"]["valid"] == 2
    assert any("3 blank record(s) skipped" in n["note"] for n in doc["notes"])


def test_aliases_apply_to_a_boolean_column(tmp_path, capsys):
    code, output = good_and(_aliases_bool, tmp_path, capsys, "payloads", "--source", "bad", "--vendor",
                            "thought_industries")
    assert code == 0, output
    bodies = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert {b["externalId"]: b["isFree"] for b in bodies} == {"C1": False, "C2": True}


def test_outside_file_content_never_appears(tmp_path, capsys):
    case = Case(tmp_path)
    _outside(case)
    sources_file = case.dir / "sources.yaml"
    sources_file.write_text(case.sources_text(), encoding="utf-8")
    for argv in (["validate", str(sources_file)], ["validate", str(sources_file), "--json"],
                 ["payloads", str(sources_file), "--source", "bad", "--vendor", "kombo"]):
        assert main(argv) == 2
        out, err = capsys.readouterr()
        assert "AWS_SECRET" not in out + err and "wJalr" not in out + err


def test_a_folder_allowed_by_setting_is_read(tmp_path, capsys, monkeypatch):
    case = Case(tmp_path)
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "c.csv").write_text(GOOD_CSV, encoding="utf-8")
    case.add(csv_entry("bad", "../shared/c.csv"))
    sources_file = case.dir / "sources.yaml"
    sources_file.write_text(case.sources_text(), encoding="utf-8")
    monkeypatch.setenv("COURSE_PIPELINE_SOURCE_ROOTS", str(shared))
    assert main(["validate", str(sources_file)]) == 0
