"""Learning-platform exports (IMS Common Cartridge, Open edX OLX) read with no column mapping, through the
door users use (course-pipeline validate / payloads), and checked against each export's own outline."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from vendors.test_samples_against_vendors import schema_validator

from course_pipeline.catalog.mapping import extract_catalog
from course_pipeline.catalog.sources import load_sources
from course_pipeline.catalog.validation import validate_catalog
from course_pipeline.cli import main

LMS_EXPORTS = Path(__file__).resolve().parents[2].parent / "shared" / "samples" / "lms-exports"
PROJECT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(PROJECT / "data"))
import make_lms_samples  # noqa: E402

FILES_BASE = "https://files.example.edu/export/"


@pytest.fixture(autouse=True)
def exports_are_an_allowed_root(monkeypatch):
    """The real exports lie outside the tests' sources folders: allowed explicitly, as a user would."""
    monkeypatch.setenv("COURSE_PIPELINE_SOURCE_ROOTS", str(LMS_EXPORTS))


def lms_exports() -> Path:
    if not LMS_EXPORTS.is_dir():
        pytest.skip(f"the real LMS exports are not at {LMS_EXPORTS} (shared/samples beside the checkout)")
    return LMS_EXPORTS


def write_sources(folder: Path, entries: list[dict]) -> Path:
    path = folder / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": entries}))
    return path


def validate_json(sources_file: Path, capsys, *args) -> tuple[int, dict]:
    code = main(["validate", str(sources_file), "--json", *args])
    return code, json.loads(capsys.readouterr().out)


def count(doc: dict, source: str, table: str, what: str = "rows") -> int:
    return next(t[what] for t in doc["tables"] if t["source"] == source and t["table"] == table)


# ----------------------------------------------------------------------- the outline, from the export itself

def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def manifest_outline(file: Path) -> tuple[str, int, int]:
    """(title, modules, lessons) as the manifest shows them: items with children, items with a resource."""
    import xml.etree.ElementTree as ET  # a trusted fixture, read independently of the reader under test

    with zipfile.ZipFile(file) as archive:
        root = ET.fromstring(archive.read("imsmanifest.xml"))
    title = next(e for e in root.iter() if _local(e.tag) == "title" and "lom" in e.tag.lower())
    title_text = next(s.text for s in title.iter() if _local(s.tag) == "string")
    organization = next(e for e in root.iter() if _local(e.tag) == "organization")
    items = [i for i in organization.iter() if _local(i.tag) == "item"][1:]  # the first is the hidden root
    modules = sum(1 for i in items if any(_local(c.tag) == "item" for c in i))
    lessons = sum(1 for i in items if i.get("identifierref"))
    return title_text, modules, lessons


def olx_outline(file: Path) -> tuple[str, int, int]:
    import tarfile
    import xml.etree.ElementTree as ET

    with tarfile.open(file) as tar:
        xml = {m.name: tar.extractfile(m).read() for m in tar if m.isfile() and m.name.endswith(".xml")}
    root = next(n for n in xml if n.endswith("/course.xml")).rsplit("/", 1)[0]

    def load(tag, url_name):
        return ET.fromstring(xml[f"{root}/{tag}/{url_name}.xml"])

    course = load("course", ET.fromstring(xml[f"{root}/course.xml"]).get("url_name"))
    modules = lessons = 0
    for chapter in course.findall("chapter"):
        modules += 1
        for sequential in load("chapter", chapter.get("url_name")).findall("sequential"):
            modules += 1
            lessons += len(load("sequential", sequential.get("url_name")).findall("vertical"))
    return course.get("display_name"), modules, lessons


# ---------------------------------------------------------------------------------------- the real exports

@pytest.mark.parametrize("name", ["canvas-sample-public-sandbox-cc1.1.imscc", "canvas-test-course-cc1.3.imscc",
                                  "single-page-cc1.3.imscc", "offline-content-module-cc1.0.imscc"])
def test_each_real_cartridge_matches_its_manifest_outline(tmp_path, capsys, name):
    file = lms_exports() / name
    sources_file = write_sources(tmp_path, [{"name": "lms", "format": "imscc", "path": str(file)}])
    code, doc = validate_json(sources_file, capsys)
    assert code in (0, 1)
    assert all(r["message"] and r["file"].startswith(name) for r in doc["rejects"])  # every reject explained
    title, modules, lessons = manifest_outline(file)
    catalog = extract_catalog(load_sources(sources_file)[0])
    assert catalog.tables["courses"]["title"].tolist() == [title]
    assert (count(doc, "lms", "modules"), count(doc, "lms", "lessons")) == (modules, lessons)


def test_real_olx_export_matches_its_tree(tmp_path, capsys):
    file = lms_exports() / "openedx-demo-course-olx.tar.gz"
    sources_file = write_sources(tmp_path, [{"name": "edx", "format": "olx", "path": str(file)}])
    code, doc = validate_json(sources_file, capsys)
    title, modules, lessons = olx_outline(file)
    assert code == 0 and (modules, lessons) == (23, 58)
    assert (count(doc, "edx", "modules"), count(doc, "edx", "lessons")) == (modules, lessons)
    result = validate_catalog(extract_catalog(load_sources(sources_file)[0]))
    course = result.valid["courses"].iloc[0]
    assert course["title"] == title and course["languages"] == ["en"]
    assert course["custom_fields"]["start"] == "2020-01-01T00:00:00Z"
    lessons_frame = result.valid["lessons"]
    videos = lessons_frame[lessons_frame["content_type"] == "video"]
    assert len(videos) == 11 and videos["video_url"].str.startswith("https://").sum() >= 10
    assert {"quiz", "text", "assignment"} <= set(lessons_frame["content_type"])


def test_canvas_extras_and_lineage(tmp_path):
    file = lms_exports() / "canvas-test-course-cc1.3.imscc"
    source = load_sources(write_sources(tmp_path, [{"name": "c", "format": "imscc", "path": str(file),
                                                    "defaults": {"materials": {"url": FILES_BASE}}}]))[0]
    result = validate_catalog(extract_catalog(source))
    assert result.ok, result.rejects.to_dict("records")
    course = result.valid["courses"].iloc[0]
    assert course["tags"] == ["Test", "Attempt"] and course["languages"] == ["en-US"]
    assert course["custom_fields"]["course_code"] == "Loaded"  # from course_settings/course_settings.xml
    lessons = result.valid["lessons"].set_index("title")
    assert "Text Header Example" not in lessons.index  # a header is not a lesson
    assert lessons.loc["Multiple Attempt Quiz", "content_type"] == "quiz"
    assert lessons.loc["Group Assignment", "content_type"] == "assignment"
    # an external tool Canvas keeps in module_meta.xml only: read from there, its URL a material
    assert lessons.loc["lorcrux", "content_type"] == "assignment"
    modules = result.valid["modules"].set_index("title")
    assert modules.loc["Example, Locked Module", "status"] == "draft"
    materials = result.valid["materials"]
    assert "https://files.example.edu/export/web_resources/Example%20File.jpg" in materials["url"].tolist()
    assert "http://lor-staging.instructure.com/api/v1/lti" in materials["url"].tolist()
    quiz = result.valid["lessons"].set_index("title").loc["Multiple Attempt Quiz"]
    assert quiz["_file"] == "canvas-test-course-cc1.3.imscc/imsmanifest.xml"
    assert quiz["_sheet"] == "ic8a6338897d38f64caf28ec7d6e2a856" and quiz["_row"] > 40


def test_real_exports_payloads_match_the_vendors_schemas(tmp_path, capsys):
    folder = lms_exports()
    sources_file = write_sources(tmp_path, [
        {"name": "carts", "format": "imscc", "path": str(folder), "defaults": {"materials": {"url": FILES_BASE}}},
        {"name": "edx", "format": "olx", "path": str(folder / "openedx-demo-course-olx.tar.gz")}])
    checked = 0
    for source, vendor, schema_file, component in [
            ("carts", "highlevel", "highlevel-courses.openapi.json", "PublicExporterPayload"),
            ("edx", "highlevel", "highlevel-courses.openapi.json", "PublicExporterPayload"),
            ("carts", "kombo", "kombo-lms-courses.openapi.json", "PostLmsCoursesBulkRequestBody"),
            ("edx", "kombo", "kombo-lms-courses.openapi.json", "PostLmsCoursesBulkRequestBody")]:
        code = main(["payloads", str(sources_file), "--source", source, "--vendor", vendor])
        out = capsys.readouterr().out
        assert code in (0, 1)
        validator = schema_validator(schema_file, component)
        for line in out.splitlines():  # one request body as it would be sent (a batch of courses)
            body = json.loads(line)
            errors = [e.message for e in validator.iter_errors(body)]
            assert errors == [], (source, vendor, errors[:3])
            checked += len(body.get("products", body.get("courses", [body])))
    assert checked >= 4  # courses inside the bodies checked


# ------------------------------------------------------------------------------ the project's own samples

def test_sample_sources_read_with_no_mapping(sample_sources_file, capsys):
    code, doc = validate_json(sample_sources_file, capsys, "--source", "canvas_cartridges")
    assert code == 0
    assert [count(doc, "canvas_cartridges", t) for t in ("courses", "modules", "lessons", "materials")] == [1, 3, 7, 2]
    code, doc = validate_json(sample_sources_file, capsys, "--source", "openedx_course")
    assert code == 0
    assert [count(doc, "openedx_course", t) for t in ("courses", "modules", "lessons")] == [1, 5, 5]


def test_sample_cartridge_maps_each_resource_type(sample_sources_file):
    source = next(s for s in load_sources(sample_sources_file) if s.name == "canvas_cartridges")
    result = validate_catalog(extract_catalog(source))
    lessons = result.valid["lessons"].set_index("title")
    assert lessons["content_type"].to_dict() == {
        "What a number claims": "text", "Averages, explained": "video", "Check yourself": "quiz",
        "Worksheet": "document", "A gallery of misleading charts": "text", "Share a chart you found": "assignment",
        "Redraw a chart": "assignment"}
    assert lessons.loc["Averages, explained", "video_url"].startswith("https://www.youtube.com/")
    page = lessons.loc["What a number claims", "description"]
    assert "<strong>answers a question</strong>" in page and "script" not in page
    modules = result.valid["modules"].set_index("title")
    assert modules.loc["Practice", "parent_module_id"] == "nw-cc-101/m1"
    materials = result.valid["materials"].set_index("title")
    assert materials.loc["worksheet.pdf", "url"] == "https://files.northwind.example/cartridges/web_resources/worksheet.pdf"
    assert materials.loc["A gallery of misleading charts", "file_type"] == "html"


def test_nesting_beyond_one_level_is_flattened_with_its_path(tmp_path):
    files = make_lms_samples.cartridge_files()
    files["imsmanifest.xml"] = files["imsmanifest.xml"].replace(
        '<item identifier="l3" identifierref="r_quiz"><title>Check yourself</title></item>',
        '<item identifier="deep"><title>Extra</title>'
        '<item identifier="l3" identifierref="r_quiz"><title>Check yourself</title></item></item>')
    make_lms_samples.write_zip(tmp_path / "c.imscc", files)
    source = load_sources(write_sources(tmp_path, [{"name": "c", "format": "imscc", "path": "c.imscc"}]))[0]
    modules = extract_catalog(source).tables["modules"].set_index("module_id")
    assert modules.loc["nw-cc-101/deep", "title"] == "Practice / Extra"
    assert modules.loc["nw-cc-101/deep", "parent_module_id"] == "nw-cc-101/m1"  # one level, as we nest


def test_missing_resource_rejects_that_lesson_and_reads_the_rest(tmp_path, capsys):
    files = make_lms_samples.cartridge_files()
    files["imsmanifest.xml"] = files["imsmanifest.xml"].replace('identifierref="r_link"', 'identifierref="r_gone"')
    make_lms_samples.write_zip(tmp_path / "c.imscc", files)
    code, doc = validate_json(write_sources(tmp_path, [{"name": "c", "format": "imscc", "path": "c.imscc"}]), capsys)
    assert code == 1 and count(doc, "c", "lessons") == 7
    bad = [r for r in doc["rejects"] if r["table"] == "lessons"]
    assert [(r["key"], r["sheet"], r["column"]) for r in bad] == [("nw-cc-101/l5", "l5", "content_type")]
    assert "r_gone" in bad[0]["value"] and bad[0]["file"] == "c.imscc/imsmanifest.xml"


def test_unknown_schema_version_reads_what_it_can_and_says_what_not(tmp_path, capsys):
    files = make_lms_samples.cartridge_files()
    files["imsmanifest.xml"] = files["imsmanifest.xml"].replace("1.3.0", "1.9.0").replace(
        'type="imsdt_xmlv1p3"', 'type="imsfuture_xmlv1p9"')
    make_lms_samples.write_zip(tmp_path / "c.imscc", files)
    code, doc = validate_json(write_sources(tmp_path, [{"name": "c", "format": "imscc", "path": "c.imscc"}]), capsys)
    assert code == 1 and count(doc, "c", "lessons") == 7
    bad = [r for r in doc["rejects"] if r["table"] == "lessons"]
    assert len(bad) == 1 and "imsfuture" in bad[0]["value"] and "1.9.0" in bad[0]["value"]


@pytest.mark.parametrize("make, fragment", [
    (lambda p: p.write_bytes(b"this is not a zip"), "neither a zip nor a tar"),
    (lambda p: make_lms_samples.write_zip(p, {"readme.txt": "hi"}), "no imsmanifest.xml"),
    (lambda p: make_lms_samples.write_zip(p, {"imsmanifest.xml": "<manifest><oops></manifest>"}),
     "not well-formed XML (line 1"),
])
def test_bad_cartridges_are_clear_errors_with_exit_2(tmp_path, capsys, make, fragment):
    make(tmp_path / "c.imscc")
    sources_file = write_sources(tmp_path, [{"name": "c", "format": "imscc", "path": "c.imscc"}])
    assert main(["validate", str(sources_file)]) == 2
    out = capsys.readouterr().out
    assert fragment in out and "c.imscc" in out and "Traceback" not in out


def test_a_bad_cartridge_in_a_folder_does_not_hide_the_others(tmp_path):
    folder = tmp_path / "carts"
    make_lms_samples.write_zip(folder / "good.imscc", make_lms_samples.cartridge_files())
    (folder / "broken.imscc").write_bytes(b"PK\x03\x04 nope")
    source = load_sources(write_sources(tmp_path, [{"name": "c", "format": "imscc", "path": "carts"}]))[0]
    catalog = extract_catalog(source)
    assert "broken.imscc" in catalog.table_errors["courses"]
    assert catalog.tables["courses"]["course_id"].tolist() == ["nw-cc-101"]


def test_cms_json_root_object_is_one_course_and_records_filter(sources, capsys):
    document = {"id": "c1", "name": "Canvas course", "modules": [{"id": "m1", "name": "Week 1", "items": [
        {"id": 1, "type": "SubHeader", "title": "Read first"},
        {"id": 2, "type": "Page", "title": "Intro"},
        {"id": 3, "type": "File", "title": "Slides", "url": "https://files.example.edu/slides.pdf"}]}]}
    (sources.dir / "canvas.json").write_text(json.dumps(document))
    source = sources.source({"name": "canvas", "format": "cms_json", "path": "canvas.json", "tables": {
        "courses": {"path": "$", "columns": {"course_id": "id", "title": "name"}},
        "modules": {"path": "modules", "columns": {"module_id": "id", "title": "name"}},
        "lessons": {"path": "items[type!=SubHeader]", "columns": {"lesson_id": "id", "title": "title"}},
        "materials": {"path": "$[type=File]", "columns": {"material_id": "id", "title": "title", "url": "url"}}},
        "defaults": {"lessons": {"content_type": "text"}}})
    result = validate_catalog(extract_catalog(source))
    assert result.ok, result.rejects.to_dict("records")
    assert result.valid["courses"]["title"].tolist() == ["Canvas course"]
    assert result.valid["lessons"]["lesson_id"].tolist() == ["2", "3"]
    materials = result.valid["materials"]
    assert materials[["lesson_id", "url", "file_type"]].values.tolist() == [
        ["3", "https://files.example.edu/slides.pdf", "pdf"]]
    assert materials["_sheet"].tolist() == ["$.modules[0].items[2]"]


def test_unpacked_olx_folder_reads_like_its_archive(tmp_path):
    for name, content in make_lms_samples.olx_files().items():
        (tmp_path / "export" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "export" / name).write_text(content)
    source = load_sources(write_sources(tmp_path, [{"name": "o", "format": "olx", "path": "export"}]))[0]
    result = validate_catalog(extract_catalog(source))
    assert result.ok, result.rejects.to_dict("records")
    lessons = result.valid["lessons"].set_index("title")
    assert lessons["content_type"].to_dict() == {
        "Why spreadsheets": "video", "Your first sheet": "text", "Quick check": "quiz",
        "Comments and versions": "text", "Try the shared workbook": "assignment"}
    assert "Comment, do not overwrite" in lessons.loc["Comments and versions", "description"]  # written inline
    assert lessons.loc["Why spreadsheets", "video_url"] == "https://www.youtube.com/watch?v=aqz-KE-bpKQ"
    assert lessons.loc["Quick check", "_file"] == "export/course/vertical/v3.xml"
    course = result.valid["courses"].iloc[0]
    assert (course["course_id"], course["languages"]) == ("course-v1:Northwind+NW201+2026", ["de"])
    modules = result.valid["modules"].set_index("title")
    assert modules.loc["First formulas", "parent_module_id"] == "course-v1:Northwind+NW201+2026/ch1"
