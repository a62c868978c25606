"""Properties over generated catalogs: every valid course yields, for every vendor, either one payload
item or one reject with a reason, never an exception; hashes are stable and follow what is sent."""

from __future__ import annotations

import string

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from course_pipeline.catalog.mapping import empty_table
from course_pipeline.catalog.schema import CONTENT_TYPES, COURSE_STATUSES, COURSE_TYPES
from course_pipeline.vendors import BUILDERS
from course_pipeline.vendors.base import build_payloads

ORIGIN = {"_source": "gen", "_file": "gen.csv", "_sheet": None}
text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=40)
html = st.one_of(st.none(), text, st.sampled_from([
    "<p>Hello <b>world</b></p>", "<script>alert(1)</script>x", "<a href='javascript:x'>y</a>", "&amp; &lt;p&gt;",
    "<ul><li>a<li>b</ul>", "<p onclick='x()'>z</p>"]))
url = st.one_of(st.none(), st.sampled_from(["https://a.example/x", "http://b.example/y?z=1", "https://c.example/f.pdf"]))
languages = st.lists(st.sampled_from(["en", "en-GB", "de-CH", "zh-Hant-TW", "es-419", "fr", "pt-BR", "tlh"]),
                     max_size=3, unique=True)
file_types = st.one_of(st.none(), st.sampled_from(["pdf", "docx", "exe", "mp4", "png", "xyz"]))


@st.composite
def catalogs(draw):
    n = draw(st.integers(min_value=1, max_value=6))
    courses = []
    for i in range(n):
        courses.append({
            "course_id": f"C{i}", "title": draw(st.one_of(text, st.just("Same title"))), "description": draw(html),
            "course_type": draw(st.sampled_from(COURSE_TYPES)), "status": draw(st.sampled_from(COURSE_STATUSES)),
            "slug": draw(st.one_of(st.none(), st.sampled_from(["intro", "intro-2", "a-b-c"]))),
            "image_url": draw(url), "course_url": draw(url),
            "duration_minutes": draw(st.one_of(st.none(), st.integers(min_value=1, max_value=200_000))),
            "languages": draw(languages), "tags": draw(st.lists(text, max_size=4)),
            "authors": draw(st.lists(text, max_size=2)), "instructor_name": draw(st.one_of(st.none(), text)),
            "instructor_bio": draw(st.one_of(st.none(), text)), "is_free": draw(st.booleans()),
            "source": draw(st.one_of(st.none(), text)), "custom_fields": draw(st.dictionaries(
                st.text(string.ascii_lowercase, min_size=1, max_size=5), text, max_size=2)),
            **ORIGIN, "_row": i + 2})
    modules, lessons, materials = [], [], []
    for i in range(draw(st.integers(min_value=0, max_value=8))):
        cid = f"C{draw(st.integers(min_value=0, max_value=n - 1))}"
        tops = [m["module_id"] for m in modules if m["course_id"] == cid and m["parent_module_id"] is None]
        parent = draw(st.one_of(st.none(), st.sampled_from(tops))) if tops else None
        modules.append({"module_id": f"M{i}", "course_id": cid, "parent_module_id": parent,
                        "title": draw(text), "status": draw(st.sampled_from(COURSE_STATUSES)),
                        "position": draw(st.one_of(st.none(), st.integers(0, 5))), "thumbnail_url": draw(url),
                        **ORIGIN, "_row": i + 2})
    for i in range(draw(st.integers(min_value=0, max_value=15))):
        cid = f"C{draw(st.integers(min_value=0, max_value=n - 1))}"
        own = [m["module_id"] for m in modules if m["course_id"] == cid]
        lessons.append({"lesson_id": f"L{i}", "course_id": cid,
                        "module_id": draw(st.one_of(st.none(), st.sampled_from(own))) if own else None,
                        "title": draw(text), "content_type": draw(st.sampled_from(CONTENT_TYPES)),
                        "description": draw(html), "video_url": draw(url), "thumbnail_url": draw(url),
                        "position": draw(st.one_of(st.none(), st.integers(0, 5))),
                        "status": draw(st.sampled_from(COURSE_STATUSES)),
                        "duration_minutes": draw(st.one_of(st.none(), st.integers(1, 300))), **ORIGIN, "_row": i + 2})
    for i in range(draw(st.integers(min_value=0, max_value=6))):
        if lessons:
            materials.append({"material_id": f"F{i}", "lesson_id": draw(st.sampled_from(lessons))["lesson_id"],
                              "title": draw(text), "url": "https://f.example/file", "file_type": draw(file_types),
                              **ORIGIN, "_row": i + 2})
    tables = {}
    for name, rows in (("courses", courses), ("modules", modules), ("lessons", lessons), ("materials", materials)):
        template = empty_table(name)
        frame = pd.DataFrame(rows, columns=template.columns) if rows else template
        for column in ("duration_minutes", "position"):
            if column in frame:
                frame[column] = frame[column].astype("Int64")
        tables[name] = frame
    return tables


def vendors():
    return [BUILDERS["highlevel"](location_id="loc"), BUILDERS["kombo"](), BUILDERS["stackone"](),
            BUILDERS["thought_industries"]()]


def hashes(sets):
    return {name: {item.course_id: item.content_hash for item in s.items} for name, s in sets.items()}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(catalogs())
def test_every_course_is_an_item_or_a_reject_for_every_vendor(tables):
    sets = build_payloads(tables, vendors())
    course_ids = list(tables["courses"]["course_id"])
    for name, payloads in sets.items():
        seen = [i.course_id for i in payloads.items] + [r.course_id for r in payloads.rejects]
        assert sorted(seen) == sorted(course_ids), name
        assert all(r.message and r.rule for r in payloads.rejects)
    assert hashes(build_payloads(tables, vendors())) == hashes(sets)  # the same catalog, the same hashes


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(catalogs(), text)
def test_a_changed_title_changes_that_courses_hash_only(tables, new_title):
    before = hashes(build_payloads(tables, vendors()))
    changed = {name: frame.copy() for name, frame in tables.items()}
    old_title = changed["courses"].at[0, "title"]
    changed["courses"].loc[0, "title"] = new_title
    after = hashes(build_payloads(changed, vendors()))
    for vendor in before:
        for cid, digest in before[vendor].items():
            if cid in after[vendor] and cid != "C0":
                if vendor != "thought_industries":  # TI slugs and duplicate titles are catalog-wide
                    assert after[vendor][cid] == digest
        if "C0" in before[vendor] and "C0" in after[vendor] and new_title != old_title:
            assert after[vendor]["C0"] != before[vendor]["C0"]
