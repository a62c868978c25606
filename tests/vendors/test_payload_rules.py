"""Each vendor's payload rules, on small hand-made catalogs."""

from __future__ import annotations

import pandas as pd
import pytest

from course_pipeline.catalog.mapping import empty_table
from course_pipeline.vendors.base import build_payloads
from course_pipeline.vendors.highlevel.payload import HighLevel
from course_pipeline.vendors.kombo.payload import Kombo
from course_pipeline.vendors.stackone.payload import StackOne, iso_duration
from course_pipeline.vendors.text import plain_text, slugify
from course_pipeline.vendors.thought_industries.payload import ThoughtIndustries

ORIGIN = {"_source": "s", "_file": "f.csv", "_sheet": None}


def course(cid: str, row: int = 2, **values) -> dict:
    base = {"course_id": cid, "title": f"Course {cid}", "description": None, "course_type": "course",
            "status": "published", "slug": None, "image_url": None, "course_url": f"https://x.example/{cid}",
            "duration_minutes": 60, "languages": ["en"], "tags": [], "authors": [], "instructor_name": None,
            "instructor_bio": None, "is_free": False, "source": None, "custom_fields": {}}
    return {**base, **values, **ORIGIN, "_row": row}


def catalog(courses: list[dict], modules=(), lessons=(), materials=()) -> dict[str, pd.DataFrame]:
    tables = {}
    for name, rows in (("courses", courses), ("modules", modules), ("lessons", lessons), ("materials", materials)):
        template = empty_table(name)
        frame = pd.DataFrame(list(rows), columns=template.columns) if rows else template
        for column in ("duration_minutes", "position"):
            if column in frame:
                frame[column] = frame[column].astype("Int64")
        tables[name] = frame
    return tables


def build(vendor, tables):
    return build_payloads(tables, [vendor])[vendor.name]


def module(mid, cid, parent=None, position=1, row=2, status="published"):
    return {"module_id": mid, "course_id": cid, "parent_module_id": parent, "title": f"Module {mid}",
            "status": status, "position": position, "thumbnail_url": None, **ORIGIN, "_row": row}


def lesson(lid, cid, mid, position=1, content_type="video", row=2, **values):
    return {"lesson_id": lid, "course_id": cid, "module_id": mid, "title": f"Lesson {lid}",
            "content_type": content_type, "description": None, "video_url": None, "thumbnail_url": None,
            "position": position, "status": "published", "duration_minutes": 5, **values, **ORIGIN, "_row": row}


def material(fid, lid, url, file_type=None, row=2):
    return {"material_id": fid, "lesson_id": lid, "title": f"File {fid}", "url": url, "file_type": file_type,
            **ORIGIN, "_row": row}


def test_plain_text_removes_tags_decodes_entities_folds_whitespace():
    assert plain_text("<p>One&nbsp;&amp; two</p><p>Three</p>\n\n<script>alert(1)</script><ul><li>a</li><li>b</li></ul>") \
        == "One & two Three a b"


def test_highlevel_structure_and_order():
    tables = catalog(
        [course("C1", instructor_name="Ann", instructor_bio="<p>Teacher</p>", image_url="https://x.example/i.png")],
        modules=[module("M2", "C1", position=2), module("M1", "C1", position=1),
                 module("M1a", "C1", parent="M1", position=1)],
        lessons=[lesson("L3", "C1", "M2", content_type="audio"), lesson("L2", "C1", "M1", position=2,
                                                                           content_type="document"),
                 lesson("L1", "C1", "M1", position=1, content_type="quiz"), lesson("L4", "C1", "M1a"),
                 lesson("L5", "C1", None, content_type="text", video_url="https://v.example/5.mp4")],
        materials=[material("F1", "L2", "https://f.example/a.PDF?x=1", "pdf")],
    )
    (item,) = build(HighLevel("loc-1"), tables).items
    body = item.body
    assert [c["title"] for c in body["categories"]] == ["Module M1", "Module M2", "Lessons"]
    first = body["categories"][0]
    assert [p["title"] for p in first["posts"]] == ["Lesson L1", "Lesson L2"]
    assert [p["contentType"] for p in first["posts"]] == ["quiz", "assignment"]
    assert first["posts"][1]["postMaterials"] == [{"title": "File F1", "type": "pdf", "url": "https://f.example/a.PDF?x=1"}]
    assert first["subCategories"][0]["posts"][0]["title"] == "Lesson L4"
    assert body["categories"][1]["posts"][0]["contentType"] == "video"  # audio plays as a video post
    assert body["categories"][2]["posts"][0]["bucketVideoUrl"] == "https://v.example/5.mp4"
    assert body["instructorDetails"] == {"name": "Ann", "description": "Teacher"}
    assert item.part_rows["lessons"] and item.origin.row == 2


def test_highlevel_instructor_only_with_name_and_bio():
    (item,) = build(HighLevel("loc"), catalog([course("C1", instructor_name="Ann")])).items
    assert "instructorDetails" not in item.body


@pytest.mark.parametrize("kind, url", [("exe", "https://f.example/setup.exe"), (None, "https://f.example/file")])
def test_highlevel_material_kind_outside_the_53_is_a_reject(kind, url):
    tables = catalog([course("C1")], modules=[module("M1", "C1")], lessons=[lesson("L1", "C1", "M1")],
                     materials=[material("F1", "L1", url, kind)])
    payloads = build(HighLevel("loc"), tables)
    assert payloads.items == []
    (reject,) = payloads.rejects
    assert reject.rule == "material_type" and "F1" in reject.message


def test_kombo_needs_a_course_url_and_sends_ll_or_ll_cc():
    tables = catalog([course("C1", course_url=None),
                      course("C2", languages=["zh-Hant-TW", "es-419", "de-CH", "en"], duration_minutes=None)])
    payloads = build(Kombo(), tables)
    assert [r.course_id for r in payloads.rejects] == ["C1"] and payloads.rejects[0].rule == "course_url_required"
    body = payloads.items[0].body
    assert body["origin_id"] == "C2" and body["course"]["type"] == "EXTERNAL"
    assert body["course"]["languages"] == ["zh-TW", "es", "de-CH", "en"]
    assert body["course"]["duration"] is None and body["course"]["thumbnail_url"] is None


def test_stackone_languages_duration_active_content_categories():
    tables = catalog([course("C1", languages=["en-GB", "de", "tlh-Latn-001"], duration_minutes=90,
                             status="draft", tags=["data", "sql"])],
                     modules=[module("M1", "C1")],
                     lessons=[lesson("L2", "C1", "M1", position=2), lesson("L1", "C1", "M1", position=1)])
    body = build(StackOne(), tables).items[0].body
    assert body["languages"][0] == {"value": "en_GB", "source_value": "en-GB"}
    assert body["languages"][1] == {"value": "de_DE", "source_value": "de"}
    assert body["languages"][2]["source_value"] == "tlh-Latn-001"
    assert body["duration"] == "PT1H30M" and body["active"] is False
    assert [(c["external_reference"], c["order"]) for c in body["content"]] == [("L1", 1), ("L2", 2)]
    assert body["categories"] == [{"name": "data"}, {"name": "sql"}]


@pytest.mark.parametrize("minutes, iso", [(90, "PT1H30M"), (45, "PT45M"), (120, "PT2H"), (120960, "PT2016H")])
def test_iso_durations(minutes, iso):
    assert iso_duration(minutes) == iso


def test_thought_industries_sanitises_html():
    html = ('<p onclick="steal()">Hi <b>bold</b> <i>it</i> <a href="javascript:alert(1)">x</a> '
            '<a href="https://ok.example" target="_blank">ok</a></p><script>alert(1)</script><img src=x onerror=y>'
            '<h1>Head</h1><ul><li>one</li></ul>')
    body = build(ThoughtIndustries(), catalog([course("C1", description=html)])).items[0].body
    description = body["description"]
    for banned in ("script", "onclick", "javascript:", "onerror", "<img", "<h1", "target"):
        assert banned not in description
    assert "<strong>bold</strong>" in description and "<em>it</em>" in description
    assert '<a href="https://ok.example">ok</a>' in description and "<ul><li>one</li></ul>" in description


def test_thought_industries_slugs_are_unique_stable_and_lowercase_hyphen():
    rows = [course("C1", title="Größe & Straße"), course("C2", title="Intro"), course("C3", title="intro!"),
            course("C4", title="Other", slug="intro")]
    slugs = {i.course_id: i.body["slug"] for i in build(ThoughtIndustries(), catalog(rows)).items}
    assert slugs["C1"] == "grosse-strasse" and slugs["C2"] == "intro"
    assert len(set(slugs.values())) == 4
    assert slugs["C3"].startswith("intro-") and slugs["C4"].startswith("intro-")
    # the suffix depends on the course's own id, not on which other rows exist
    again = {i.course_id: i.body["slug"] for i in build(ThoughtIndustries(), catalog([rows[1], rows[2]])).items}
    assert again["C3"] == slugs["C3"]
    assert slugify("  Ünïcödé -- Tïtle  ") == "unicode-title"


def test_thought_industries_rejects_long_and_duplicate_titles_and_dedupes_tags():
    rows = [course("C1", title="x" * 256), course("C2", title="Same", tags=["Data", " data ", "SQL", "sql"]),
            course("C3", title="same")]
    payloads = build(ThoughtIndustries(), catalog(rows))
    assert {(r.course_id, r.rule) for r in payloads.rejects} == {("C1", "title_length"), ("C3", "duplicate_title")}
    (item,) = payloads.items
    assert item.body["tags"] == ["Data", "SQL"] and item.body["externalId"] == "C2"


def test_content_hash_is_pinned_across_runs_and_machines():
    """Canonical JSON (sorted keys, no spaces, UTF-8) of what is sent: if this changes, every course
    looks changed to the ledger and is re-sent, so a change here must be deliberate."""
    tables = catalog([course("C1", title="Größe – Intro", description="<p>Ünï &amp; çödé</p>", languages=["de-CH"])])
    (item,) = build(Kombo(), tables).items
    assert item.content_hash == "ca8c9a79ba8d6073ad2fc8b4b76dc536217dc5cc5e2bb8baffdd14be598d95f3"
    assert item.body_json.startswith(b'{"course":{"course_url":"https://x.example/C1","description":"\xc3\x9cn')
