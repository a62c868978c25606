"""No executable markup reaches a vendor: a corpus of XSS filter-evasion vectors, in every text field of
a catalog, through all four vendors' payload builders."""

from __future__ import annotations

import csv
import re
from html.parser import HTMLParser

import pytest

from course_pipeline import pipeline
from course_pipeline.vendors import VENDOR_NAMES
from course_pipeline.vendors.settings import VendorSettings, make_builder
from course_pipeline.vendors.text import basic_html, plain_text
from course_pipeline.vendors.thought_industries.payload import ALLOWED_TAGS, LINK_SCHEMES

VECTORS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=http://xss.example/xss.js></SCRIPT>",
    "<ScRiPt>alert(1)</sCrIpT>",
    "<img src=x onerror=alert(1)>",
    "<img src=x onerror=&#97;&#108;&#101;&#114;&#116;(1)>",
    "<IMG SRC=\"javascript:alert('XSS');\">",
    "<IMG SRC=JaVaScRiPt:alert('XSS')>",
    "<IMG SRC=`javascript:alert(\"XSS\")`>",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<a href=\"JAVASCRIPT:alert(1)\">x</a>",
    "<a href=\"  javascript:alert(1)\">x</a>",
    "<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)\">x</a>",
    "<a href=\"java&#x09;script:alert(1)\">x</a>",
    "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">x</a>",
    "<a href=\"vbscript:msgbox(1)\">x</a>",
    "<a href=\"https://ok.example.com\" onclick=\"alert(1)\">ok</a>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&#60;script&#62;alert(1)&#60;/script&#62;",
    "&#x3C;script&#x3E;alert(1)&#x3C;/script&#x3E;",
    "&#0000060;script&#0000062;alert(1)",
    "&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt;",
    "&lt;img src=x onerror=alert(1)&gt;",
    "<svg/onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<body onload=alert(1)>",
    "<iframe src=\"javascript:alert(1)\"></iframe>",
    "<scr<script>ipt>alert(1)</script>",
    "<<script>script>alert(1)<</script>/script>",
    "\"><script>alert(1)</script>",
    "<img \"\"\"><script>alert(1)</script>\">",
    "<p onmouseover=\"alert(1)\">hi</p>",
    "<b onclick=alert(1)>bold</b>",
    "<i style=\"x:expression(alert(1))\">it</i>",
    "<style>@import'javascript:alert(1)';</style>",
    "<object data=\"data:text/html,<script>alert(1)</script>\"></object>",
    "<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>",
    "<div style=\"background:url(javascript:alert(1))\">x</div>",
    "<img src=\"x\" / onerror=\"alert(1)\">",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
    "<a href=\"http://ok.example.com\">fine <b>link</b></a>",
    "<script",
    "<img src=x onerror=alert(1)",
    "%3Cscript%3Ealert(1)%3C/script%3E",
]

# Fields a vendor takes as HTML: (vendor, key in the body).
HTML_FIELDS = {("thought_industries", "description")}
# Not text: ids we set, URLs from the catalog (validated as http(s) URLs), enums.
NOT_TEXT = {"origin_id", "external_reference", "externalId", "slug", "course_url", "url", "imageUrl", "thumbnailUrl",
            "bucketVideoUrl", "cover_url", "thumbnail_url", "content_url", "type", "visibility", "contentType",
            "courseType", "publishedStatus", "locationId", "value", "source_value"}


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))


def assert_safe_html(text: str) -> None:
    assert not re.search(r"(?i)<\s*/?\s*script", text), text
    parser = _Tags()
    parser.feed(text)
    parser.close()
    for tag, attrs in parser.tags:
        assert tag in ALLOWED_TAGS, text
        for name, value in attrs:
            assert name == "href" and not name.startswith("on"), text
            scheme = re.match(r"\s*([a-zA-Z][a-zA-Z0-9+.-]*):", value or "")
            assert scheme is None or scheme[1].lower() in LINK_SCHEMES, text


def text_fields(vendor: str, body, key: str = ""):
    """(key, text) for every string of a body, however deep."""
    if isinstance(body, dict):
        for k, v in body.items():
            yield from text_fields(vendor, v, k if k not in ("customFields", "unified_custom_fields") else "custom")
    elif isinstance(body, list):
        for v in body:
            yield from text_fields(vendor, v, key)
    elif isinstance(body, str):
        yield key, body


def write_csv(path, header, rows):
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


@pytest.fixture(scope="module")
def payloads(tmp_path_factory):
    from course_pipeline.catalog.sources import load_sources

    folder = tmp_path_factory.mktemp("xss")
    courses, modules, lessons, materials = [], [], [], []
    for i, vector in enumerate(VECTORS):
        courses.append([f"C{i}", f"T{i} {vector}", vector, f"https://learn.example.com/c/{i}", f"N{i} {vector}",
                        vector, f"tag{i},{vector.replace(',', ' ')}", vector.replace(",", " "), vector])
        modules.append([f"M{i}", f"C{i}", f"Module {vector}"])
        lessons.append([f"L{i}", f"M{i}", f"Lesson {vector}", vector, "text"])
        materials.append([f"X{i}", f"L{i}", f"Handout {vector}", f"https://files.example.com/{i}.pdf"])
    courses.append(["ONLY", VECTORS[0], "", "https://learn.example.com/c/only", "", "", "", "", ""])
    write_csv(folder / "courses.csv", ["course_id", "title", "description", "course_url", "instructor_name",
                                       "instructor_bio", "tags", "authors", "note"], courses)
    write_csv(folder / "modules.csv", ["module_id", "course_id", "title"], modules)
    write_csv(folder / "lessons.csv", ["lesson_id", "module_id", "title", "description", "content_type"], lessons)
    write_csv(folder / "materials.csv", ["material_id", "lesson_id", "title", "url"], materials)
    (folder / "sources.yaml").write_text(
        "sources:\n  - name: xss\n    format: csv\n    path: courses.csv\n    tables:\n"
        "      courses: {custom_fields: {note: note}}\n      modules: {path: modules.csv}\n"
        "      lessons: {path: lessons.csv}\n      materials: {path: materials.csv}\n", encoding="utf-8")
    (source,) = load_sources(folder / "sources.yaml")
    result = pipeline.read(source)
    assert result.table_errors == {} and result.rejected_rows == 0, result.rejects.to_dict("records")
    builders = [make_builder(VendorSettings(name=v, base_url="http://vendor.invalid", account="acct"))
                for v in VENDOR_NAMES]
    return pipeline.build(result, builders)


@pytest.mark.parametrize("vendor", VENDOR_NAMES)
def test_no_executable_markup_reaches_the_vendor(payloads, vendor):
    items = payloads[vendor].items
    assert len(items) >= len(VECTORS) - 1  # every course but the one whose title is only markup
    checked_html = 0
    for item in items:
        for key, text in text_fields(vendor, item.body):
            if key in NOT_TEXT:
                continue
            if (vendor, key) in HTML_FIELDS:
                assert_safe_html(text)
                checked_html += 1
            else:
                assert "<" not in text and ">" not in text, (vendor, key, text)
                assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text)
    if vendor == "thought_industries":
        assert checked_html == len(items)


@pytest.mark.parametrize("vendor", VENDOR_NAMES)
def test_a_title_that_is_only_markup_is_a_vendor_reject(payloads, vendor):
    rejects = {r.course_id: r for r in payloads[vendor].rejects}
    assert rejects["ONLY"].rule == "title_markup"


def test_escaped_text_stays_escaped():
    assert plain_text("&lt;script&gt;alert(1)&lt;/script&gt;") == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert plain_text("&#60;script&#62;x") == "&lt;script&gt;x"
    assert plain_text("Tom &amp; Jerry &eacute;t&eacute;") == "Tom & Jerry été"
    assert plain_text("<p>one</p><p>two</p>") == "one two"
    html = basic_html("&lt;script&gt;alert(1)&lt;/script&gt;<b>bold</b>", ALLOWED_TAGS, LINK_SCHEMES)
    assert "<script" not in html and "<strong>bold</strong>" in html
