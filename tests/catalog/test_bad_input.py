"""Bad input gets a clear error and loses nothing: each case below is something a real catalog does."""

from __future__ import annotations

import json
import zipfile

import openpyxl
import pytest

from course_pipeline.catalog.errors import ConfigError, SourceReadError
from course_pipeline.catalog.mapping import extract_catalog
from course_pipeline.catalog.readers import read_csv_table
from course_pipeline.catalog.validation import validate_catalog

GOOD = "https://learn.example.com/c/{}"


def validated(source):
    return validate_catalog(extract_catalog(source))


def course_rows(n: int, start: int = 1) -> str:
    return "".join(f"C{i},Course {i},{GOOD.format(i)},60,en\n" for i in range(start, start + n))


def test_empty_file_is_reported_not_raised(sources):
    result = validated(sources.csv(""))
    assert "is empty" in result.table_errors["courses"]
    assert result.valid["courses"].empty


def test_header_only_gives_zero_rows_and_no_error(sources):
    result = validated(sources.csv("course_id,title,course_url\n"))
    assert result.table_errors == {}
    assert result.summary.set_index("table").at["courses", "rows"] == 0


def test_encoding_is_detected_for_cp1252_and_bom(sources):
    text = "course_id;title\nK1;Größe & Straße – café\n"
    cp1252 = validated(sources.csv(text, encoding="cp1252", name="a"))
    bom = validated(sources.csv("\ufeff" + text, encoding="utf-8", name="b"))
    for result in (cp1252, bom):
        assert result.valid["courses"]["title"].tolist() == ["Größe & Straße – café"]
        assert result.valid["courses"]["course_id"].tolist() == ["K1"]  # no BOM glued to the header


def test_wrong_declared_encoding_is_a_clear_error(sources):
    source = sources.csv("course_id,title\nK1,Größe\n", encoding="cp1252", encoding_setting=None) if False else \
        sources.csv("course_id,title\nK1,Größe\n".encode("cp1252"), encoding="utf-8")
    # detection copes with it ...
    assert validated(source).valid["courses"]["title"].tolist() == ["Größe"]
    # ... but an encoding stated in sources.yaml is obeyed and its failure explained
    strict = sources.source({"name": "strict", "format": "csv", "path": "src.csv", "encoding": "utf-8",
                             "tables": {"courses": {}}})
    with pytest.raises(SourceReadError, match=r"not valid utf-8 at byte \d+.*set encoding"):
        read_csv_table(strict, "courses")


def test_binary_file_is_not_text(sources):
    result = validated(sources.csv(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\xff\xfe"))
    assert "binary data" in result.table_errors["courses"]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed(sources, delimiter):
    text = delimiter.join(["course_id", "title", "course_url"]) + "\n" + delimiter.join(
        ["C1", "Intro, part one", GOOD.format(1)]) + "\n"
    if delimiter == ",":
        text = text.replace("Intro, part one", '"Intro, part one"')
    result = validated(sources.csv(text))
    assert result.valid["courses"]["title"].tolist() == ["Intro, part one"]


def test_unknown_delimiter_names_the_setting(sources):
    result = validated(sources.csv("course_id^title\nC1^Intro\n"))
    message = result.table_errors["courses"]
    assert "mapped column" in message or "required column" in message
    assert "delimiter" in message


def test_missing_required_column_names_source_key_and_columns(sources):
    source = sources.csv("Kurs-ID,Name\nK1,Intro\n", tables={"courses": {"columns": {"course_id": "Kurs-ID",
                                                                                      "title": "Titel"}}})
    message = validated(source).table_errors["courses"]
    assert "source 'src'" in message and "title <- 'Titel'" in message and "'Name'" in message


def test_unmapped_required_column_says_how_to_map_it(sources):
    message = validated(sources.csv("course_id,name\nK1,Intro\n")).table_errors["courses"]
    assert "required column(s) title" in message and "tables.courses.columns" in message


def test_duplicate_header_of_a_mapped_column_is_refused(sources):
    message = validated(sources.csv("course_id,title,title\nC1,A,B\n")).table_errors["courses"]
    assert "'title'" in message and "appears 2 times" in message and "columns 2, 3" in message


def test_duplicate_header_of_an_unmapped_column_is_harmless(sources):
    result = validated(sources.csv("course_id,title,note,note\nC1,A,x,y\n"))
    assert result.table_errors == {} and result.valid["courses"]["title"].tolist() == ["A"]


def test_quoted_multiline_fields_trailing_columns_and_blank_lines(sources):
    text = ('course_id,title,description,,\n'
            'C1,Intro,"line one\nline two, with comma",,\n'
            '\n'
            'C2,Next,plain,,\n')
    result = validated(sources.csv(text))
    courses = result.valid["courses"]
    assert courses["description"].tolist() == ["line one\nline two, with comma", "plain"]
    assert courses["_row"].tolist() == [2, 4]  # spreadsheet rows: the blank record keeps its number


def test_one_megabyte_cell_is_rejected_alone_and_shown_short(sources):
    huge = "x" * (1 << 20)
    result = validated(sources.csv(f"course_id,title,description\nC1,{huge},ok\nC2,Fine,{huge}\nC3,Also fine,\n"))
    assert result.valid["courses"]["course_id"].tolist() == ["C2", "C3"]  # a long description is fine
    reject = result.rejects.iloc[0]
    assert (reject["key"], reject["column"], reject["rule"]) == ("C1", "title", "length")
    assert len(reject["value"]) < 200 and "1,048,576 characters" in reject["value"]


def test_formula_text_in_csv_is_rejected(sources):
    result = validated(sources.csv('course_id,title\nC1,"=HYPERLINK(""http://x"",""y"")"\nC2,= Intro =\n'))
    assert result.valid["courses"]["course_id"].tolist() == ["C2"]
    assert result.rejects.iloc[0]["rule"] == "formula_not_evaluated"


def write_workbook(path, sheets: dict[str, list[list]]):
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(path)


def xlsx_source(sources, sheets, tables=None):
    write_workbook(sources.dir / "book.xlsx", sheets)
    return sources.source({"name": "book", "format": "xlsx", "path": "book.xlsx",
                           "tables": tables or {"courses": {}}})


def test_unknown_sheet_lists_the_sheets(sources):
    source = xlsx_source(sources, {"Kurse": [["course_id", "title"], ["C1", "A"]]})
    message = validated(source).table_errors["courses"]
    assert "no sheet 'courses'" in message and "'Kurse'" in message


def test_sheet_name_matches_case_insensitively(sources):
    source = xlsx_source(sources, {"Courses ": [["course_id", "title"], ["C1", "A"]]})
    assert validated(source).valid["courses"]["course_id"].tolist() == ["C1"]


def test_corrupt_workbook_is_a_clear_error(sources):
    (sources.dir / "book.xlsx").write_bytes(b"PK\x03\x04 this is not really a zip")
    source = sources.source({"name": "book", "format": "xlsx", "path": "book.xlsx", "tables": {"courses": {}}})
    assert "not a readable Excel workbook" in validated(source).table_errors["courses"]


def test_formula_without_value_rejects_only_that_row(sources):
    source = xlsx_source(sources, {"courses": [["course_id", "title"], ["C1", '=CONCATENATE("A","B")'],
                                               ["C2", "Plain"]]})
    result = validated(source)
    assert result.valid["courses"]["course_id"].tolist() == ["C2"]
    first = result.rejects.iloc[0]
    assert (first["key"], first["rule"], first["sheet"], first["row"]) == ("C1", "formula_not_evaluated", "courses", 2)


def test_numbers_where_text_belongs_become_text(sources):
    source = xlsx_source(sources, {"courses": [["course_id", "title", "duration_minutes", "is_free"],
                                               [101, 1984, 90, True], [102.0, "Normal", "1.5 hours", "no"]]})
    courses = validated(source).valid["courses"]
    assert courses["course_id"].tolist() == ["101", "102"]
    assert courses["title"].tolist() == ["1984", "Normal"]
    assert courses["duration_minutes"].tolist() == [90, 90]
    assert courses["is_free"].tolist() == [True, False]


def test_text_where_numbers_belong_is_rejected_with_the_cell(sources):
    source = xlsx_source(sources, {
        "courses": [["course_id", "title"], ["C1", "A"]],
        "modules": [["module_id", "course_id", "title", "position"], ["M1", "C1", "One", "first"],
                    ["M2", "C1", "Two", 2]],
    }, tables={"courses": {}, "modules": {}})
    result = validated(source)
    reject = result.rejects[result.rejects["table"] == "modules"].iloc[0]
    assert (reject["key"], reject["column"], reject["rule"], reject["value"]) == ("M1", "position", "integer", "first")


def test_invalid_json_gives_line_and_column(sources):
    (sources.dir / "cms.json").write_text('{"data": [\n  {"id": 1,}\n]}', encoding="utf-8")
    source = sources.source({"name": "cms", "format": "cms_json", "path": "cms.json",
                             "tables": {"courses": {"path": "data", "columns": {"course_id": "id",
                                                                                 "title": "title"}}}})
    message = validated(source).table_errors["courses"]
    assert "not valid JSON" in message and "line 2, column 12" in message


def test_json_records_in_the_wrong_shape_are_reported(sources):
    (sources.dir / "cms.json").write_text(json.dumps({"data": "nope"}), encoding="utf-8")
    source = sources.source({"name": "cms", "format": "cms_json", "path": "cms.json",
                             "tables": {"courses": {"path": "data", "columns": {"course_id": "id"}}}})
    assert "should be a list of records" in validated(source).table_errors["courses"]


def test_valid_rows_around_a_bad_one_still_pass(sources):
    text = ("course_id,title,course_url,duration_minutes,languages\n"
            + course_rows(2) + "C3,,ftp://nope,-5,not a language\n" + course_rows(2, start=4))
    result = validated(sources.csv(text))
    assert result.valid["courses"]["course_id"].tolist() == ["C1", "C2", "C4", "C5"]
    bad = result.rejects[result.rejects["key"] == "C3"]
    # every reason at once, each with its cell
    assert set(bad["column"]) == {"title", "course_url", "duration_minutes", "languages"}
    assert set(bad["row"]) == {4}


def test_an_unreadable_table_does_not_hide_the_others(sources):
    source = xlsx_source(sources, {"courses": [["course_id", "title"], ["C1", "A"]]},
                         tables={"courses": {}, "lessons": {}})
    result = validated(source)
    assert "no sheet 'lessons'" in result.table_errors["lessons"]
    assert result.valid["courses"]["course_id"].tolist() == ["C1"]


def test_zip_that_is_not_a_workbook(sources):
    with zipfile.ZipFile(sources.dir / "book.xlsx", "w") as archive:
        archive.writestr("hello.txt", "hi")
    source = sources.source({"name": "book", "format": "xlsx", "path": "book.xlsx", "tables": {"courses": {}}})
    assert "not a readable Excel workbook" in validated(source).table_errors["courses"]


@pytest.mark.parametrize("entry, fragment", [
    ({"name": "x", "format": "csv", "path": "src.csv", "tables": {"courses": {}}, "colums": {}},
     "unknown key 'colums'"),
    ({"name": "x", "format": "csv", "path": "missing.csv", "tables": {"courses": {}}}, "file not found"),
    ({"name": "x", "format": "tsv", "path": "src.csv", "tables": {"courses": {}}},
     "format 'tsv' for src.csv is not one we read; expected one of csv"),
    ({"name": "x", "format": "csv", "path": "src.csv", "tables": {"courses": {"columns": {"titel": "T"}}}},
     "unknown column 'titel'"),
    ({"name": "x", "format": "csv", "path": "src.csv", "tables": {"lessons": {}}}, "tables.courses is missing"),
    ({"name": "x", "format": "csv", "path": "src.csv", "tables": {"courses": {}},
      "conventions": {"duration_unit": "days"}}, "duration_unit must be one of"),
    ({"name": "x", "format": "csv", "path": "src.csv", "tables": {"courses": {}},
      "defaults": {"courses": {"languages": ["not a language"]}}}, "defaults.courses.languages"),
])
def test_config_errors_name_source_and_key(sources, entry, fragment):
    (sources.dir / "src.csv").write_text("course_id,title\nC1,A\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=fragment) as info:
        sources.source(entry)
    assert "source 'x'" in str(info.value)


def cms_source(sources, document, tables):
    (sources.dir / "export.json").write_text(json.dumps(document), encoding="utf-8")
    return sources.source({"name": "cms", "format": "cms_json", "path": "export.json", "tables": tables})


COURSES = {"columns": {"course_id": "id", "title": "title"}}
MODULES = {"path": "modules", "columns": {"module_id": "id", "title": "title"}}


@pytest.mark.parametrize("document, path, why", [
    ({"data": {"courses": [{"id": 1}], "meta": {}}}, "data.items", "'data' has no key 'items' (keys: courses, meta)"),
    ({"items": [{"id": 1}]}, "data", "the document has no key 'data' (keys: items)"),  # the envelope moved
    ({"data": None}, "data", "'data' is null"),
    ({"data": {"items": "x"}}, "data.items.0", "'data.items' is a string, not an object with the key '0'"),
    ({"data": [1, 2]}, "data", "'data' holds 2 value(s) but no records (JSON objects)"),
    ({"data": [{"id": 1, "type": "Page"}, {"id": 2}]}, "data[type=Course]",
     "the filter [type=Course] kept none of the 2 record(s) at 'data' (type values there: (none), Page)"),
])
def test_a_courses_path_that_matches_nothing_is_a_read_error(sources, document, path, why):
    result = validated(cms_source(sources, document, {"courses": {"path": path, **COURSES}}))
    assert result.table_errors == {"courses": f"source 'cms' table 'courses': courses path {path!r} matched nothing "
                                              f"in export.json: {why}"}
    assert result.valid["courses"].empty


def test_a_courses_path_that_matches_an_empty_list_is_an_empty_catalog(sources):
    result = validated(cms_source(sources, {"data": []}, {"courses": {"path": "data", **COURSES},
                                                          "modules": MODULES}))
    assert result.table_errors == {} and result.summary["rows"].sum() == 0


def test_a_nested_path_is_an_error_only_when_no_record_has_it(sources):
    document = {"data": [{"id": 1, "title": "A", "modulez": [{"id": "m1", "title": "M"}]}, {"id": 2, "title": "B"}]}
    result = validated(cms_source(sources, document, {"courses": {"path": "data", **COURSES}, "modules": MODULES}))
    assert result.table_errors == {"modules": (
        "source 'cms' table 'modules': modules path 'modules' matched nothing in export.json: not in any of the 2 "
        "course record(s); at $.data[0], the record has no key 'modules' (keys: id, title, modulez)")}
    assert result.valid["courses"]["course_id"].tolist() == ["1", "2"]  # the courses were read
    # One course with modules and one without, or all with an empty list: that is what the export holds.
    for second in ({"id": 2, "title": "B"}, {"id": 2, "title": "B", "modules": []}):
        document = {"data": [{"id": 1, "title": "A", "modules": []}, second]}
        result = validated(cms_source(sources, document, {"courses": {"path": "data", **COURSES}, "modules": MODULES}))
        assert result.table_errors == {} and result.valid["courses"]["course_id"].tolist() == ["1", "2"]


def test_validate_exits_2_for_a_courses_path_that_matches_nothing(sources, capsys):
    from course_pipeline.cli import main

    cms_source(sources, {"items": [{"id": 1, "title": "One"}]}, {"courses": {"path": "data", **COURSES}})
    assert main(["validate", str(sources.dir / "sources.yaml")]) == 2
    assert "courses path 'data' matched nothing in export.json" in capsys.readouterr().out


@pytest.mark.parametrize("fmt, fragment", [("imscc", "holds no .imscc or .zip cartridge"), ("olx", "no course.xml")])
def test_an_export_folder_with_no_course_is_a_read_error(sources, fmt, fragment):
    (sources.dir / "exports").mkdir()
    (sources.dir / "exports" / "readme.txt").write_text("nothing here")
    result = validated(sources.source({"name": "lms", "format": fmt, "path": "exports"}))
    assert fragment in result.table_errors["courses"] and result.valid["courses"].empty
