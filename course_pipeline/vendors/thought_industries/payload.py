"""Thought Industries: one course per request, looked up by externalId (our course id).

Descriptions keep only the basic HTML the vendor allows (p strong em ul li a), sanitised by nh3.
Slugs are lowercase-hyphen, from the source's slug or the title, unique within the catalog: where two
courses would share one, the first in catalog order keeps it and the others get a suffix derived from
their own course id (stable: it does not depend on which rows the file holds)."""

from __future__ import annotations

import hashlib
from typing import ClassVar

import pandas as pd

from ...catalog.schema import TITLE_MAX
from ..base import CourseBundle, PayloadBuilder, VendorRejected
from ..text import basic_html, plain_text, slugify, text_values, title_text

ALLOWED_TAGS = frozenset({"p", "strong", "em", "ul", "li", "a"})
LINK_SCHEMES = frozenset({"http", "https", "mailto"})


def unique_slugs(courses: pd.DataFrame) -> dict[str, str]:
    """course id -> slug, unique within the catalog."""
    wanted = [(cid, slug if isinstance(slug, str) and slug else slugify(title) or f"course-{slugify(cid)}")
              for cid, slug, title in zip(courses["course_id"], courses["slug"], courses["title"], strict=True)]
    taken: set[str] = set()
    slugs = {}
    for cid, slug in wanted:
        if slug in taken:
            slug = f"{slug}-{hashlib.sha256(cid.encode()).hexdigest()[:6]}"
        taken.add(slug)
        slugs[cid] = slug
    return slugs


def dedupe_tags(tags: list[str]) -> list[str]:
    """Trimmed, first spelling kept, case-insensitively unique (the vendor folds case itself)."""
    seen, out = set(), []
    for tag in tags:
        key = tag.strip().casefold()
        if key and key not in seen:
            seen.add(key)
            out.append(tag.strip())
    return out


class ThoughtIndustries(PayloadBuilder):
    name: ClassVar[str] = "thought_industries"

    def __init__(self):
        self.slugs: dict[str, str] = {}
        self.title_owner: dict[str, str] = {}

    def prepare(self, courses: pd.DataFrame) -> None:
        self.slugs = unique_slugs(courses)
        self.title_owner = {}
        for cid, title in zip(courses["course_id"], courses["title"], strict=True):
            self.title_owner.setdefault(plain_text(title).casefold(), cid)

    def request_body(self, bodies: list[dict]) -> dict:
        (body,) = bodies  # one course per request
        return body

    def build(self, bundle: CourseBundle) -> dict:
        course = bundle.course
        title = title_text(course["title"])
        if len(title) > TITLE_MAX:
            raise VendorRejected("title_length", f"title has {len(title)} characters; Thought Industries takes "
                                                 f"{TITLE_MAX} at most")
        owner = self.title_owner.get(title.casefold(), course["course_id"])
        if owner != course["course_id"]:
            raise VendorRejected("duplicate_title", f"title {title!r} is also course {owner}'s; Thought "
                                                    "Industries needs titles unique in the instance")
        body = {
            "externalId": course["course_id"],
            "title": title,
            "courseType": course["course_type"],
            "slug": self.slugs[course["course_id"]],
            "description": basic_html(course.get("description"), ALLOWED_TAGS, LINK_SCHEMES),
            "publishedStatus": course["status"],
            "authors": [plain_text(author) for author in course["authors"]],
            "tags": dedupe_tags([plain_text(tag) for tag in course["tags"]]),
            "customFields": text_values(course.get("custom_fields")),
            "isFree": bool(course["is_free"]),
        }
        if course.get("source"):
            body["source"] = plain_text(course["source"])
        return body
