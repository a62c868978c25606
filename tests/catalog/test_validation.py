"""Validation on the sample catalogs and on the rules that span tables."""

from __future__ import annotations

import openpyxl
import pytest

from course_pipeline.catalog.mapping import extract_catalog
from course_pipeline.catalog.sources import load_sources, read_sources
from course_pipeline.catalog.validation import validate_catalog


@pytest.fixture(scope="module")
def sample_results():
    from pathlib import Path

    sources = load_sources(Path(__file__).resolve().parents[2] / "data" / "sources.yaml")
    return {s.name: validate_catalog(extract_catalog(s)) for s in sources}


def reasons(result, key):
    rows = result.rejects[result.rejects["key"] == key]
    return set(zip(rows["column"], rows["rule"], strict=True))


def test_samples_are_large_enough(sample_results):
    workbook = sample_results["northwind_academy"].summary.set_index("table")["rows"]
    assert workbook["courses"] >= 6 and workbook["lessons"] >= 60 and workbook["modules"] > 0
    assert workbook["materials"] > 0


def test_workbook_defects_are_rejected_with_their_cells(sample_results):
    result = sample_results["northwind_academy"]
    assert ("module_id", "reference") in reasons(result, "L900")
    assert ("content_type", "allowed_values") in reasons(result, "L901")
    duplicate = result.rejects[(result.rejects["key"] == "L010") & (result.rejects["rule"] == "unique")].iloc[0]
    assert duplicate["row"] == 67 and "the first is lessons row 11" in duplicate["message"]
    assert ("title", "formula_not_evaluated") in reasons(result, "NW-107")


def test_a_course_is_held_back_whole_when_a_part_is_rejected(sample_results):
    result = sample_results["northwind_academy"]
    held = result.rejects[(result.rejects["key"] == "NW-102") & (result.rejects["rule"] == "incomplete_course")]
    assert len(held) == 1 and "lessons row 66" in held.iloc[0]["message"]
    valid = result.valid
    assert "NW-102" not in set(valid["courses"]["course_id"])
    for table in ("modules", "lessons"):
        assert "NW-102" not in set(valid[table]["course_id"])
    assert "NW-101" in set(valid["courses"]["course_id"])
    summary = result.summary.set_index("table")
    assert (summary["rows"] == summary["valid"] + summary["rejected"] + summary["held_back"]).all()


def test_csv_defects(sample_results):
    result = sample_results["partner_kurse"]
    assert ("title", "required") in reasons(result, "P-2005")
    assert ("duration_minutes", "duration") in reasons(result, "P-2006")
    dup = result.rejects[result.rejects["rule"] == "unique"].iloc[0]
    assert dup["key"] == "P-2002" and dup["row"] == 7 and "the first is row 3" in dup["message"]
    first = result.valid["courses"].set_index("course_id").loc["P-2002"]
    assert first["title"] == "Erste Hilfe – Auffrischung"  # the first of a duplicated id goes on
    assert first["custom_fields"] == {"published_on": "2025-01-15"}


def test_cms_defects_point_at_the_record(sample_results):
    result = sample_results["cms_export"]
    podcast = result.rejects[result.rejects["value"] == "podcast"].iloc[0]
    assert podcast["sheet"] == "$.data[2].attributes.modules.data[1].attributes.lessons.data[2]"
    assert ("title", "required") in reasons(result, "44")
    course = result.valid["courses"].iloc[0]
    assert course["tags"] == ["data", "analytics"] and course["instructor_name"] == "Grace Lin"
    materials = result.valid["materials"]
    assert set(materials["file_type"]) == {"pdf"} and materials["lesson_id"].notna().all()


def workbook_source(sources, modules, lessons=None):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "courses"
    ws.append(["course_id", "title"])
    for cid in ("C1", "C2"):
        ws.append([cid, f"Course {cid}"])
    ws = wb.create_sheet("modules")
    ws.append(["module_id", "course_id", "parent_module_id", "title"])
    for row in modules:
        ws.append(row)
    ws = wb.create_sheet("lessons")
    ws.append(["lesson_id", "course_id", "module_id", "title", "content_type"])
    for row in lessons or []:
        ws.append(row)
    wb.save(sources.dir / "book.xlsx")
    return sources.source({"name": "book", "format": "xlsx", "path": "book.xlsx",
                           "tables": {"courses": {}, "modules": {}, "lessons": {}}})


def test_modules_nest_one_level_within_one_course(sources):
    source = workbook_source(sources, [
        ["M1", "C1", None, "Top"], ["M1.1", "C1", "M1", "Sub"], ["M1.1.1", "C1", "M1.1", "Too deep"],
        ["M2", "C2", "M1", "Parent in another course"], ["M3", "C1", "M3", "Own parent"],
        ["M4", "C1", "M404", "Missing parent"],
    ])
    result = validate_catalog(extract_catalog(source))
    by_key = {k: set(g["message"]) for k, g in result.rejects[result.rejects["table"] == "modules"].groupby("key")}
    assert any("one level" in m for m in by_key["M1.1.1"])
    assert any("another course" in m for m in by_key["M2"])
    assert any("its own parent" in m for m in by_key["M3"])
    assert any("matches no modules" in m for m in by_key["M4"])
    assert "M1.1" not in by_key and "M1" not in by_key


def test_lesson_takes_its_course_from_its_module_and_disagreement_is_rejected(sources):
    source = workbook_source(sources, [["M1", "C1", None, "Top"], ["M2", "C2", None, "Other"]], lessons=[
        ["L1", None, "M1", "From module", "video"], ["L2", "C1", "M2", "Disagrees", "video"],
        ["L3", "C2", None, "Course only", "text"],
    ])
    result = validate_catalog(extract_catalog(source))
    lessons = result.rejects[result.rejects["table"] == "lessons"]
    assert set(lessons["key"]) == {"L2"} and lessons.iloc[0]["rule"] == "consistency"
    assert result.valid["lessons"].empty or "L1" not in set(result.valid["lessons"]["lesson_id"])
    # C1 lost L2 and C2 lost nothing of its own, but L2 pointed at C1 by its course_id: C1 is held back.
    held = set(result.rejects.loc[result.rejects["rule"] == "incomplete_course", "key"])
    assert held == {"C1"}
    assert set(result.valid["lessons"]["lesson_id"]) == {"L3"}


def test_find_source_names_the_known_ones(sample_sources_file):
    with pytest.raises(Exception, match="known sources: northwind_academy, partner_kurse, cms_export"):
        read_sources(sample_sources_file).get("nope")
