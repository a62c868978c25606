"""Thought Industries: one course per request, looked up by externalId (our course id).

Descriptions keep only the basic HTML the vendor allows (p strong em ul li a), sanitised by nh3.
Slugs are lowercase-hyphen, from the source's slug or the title, unique within the catalog: where two
courses would share one, the first in catalog order keeps it and the others get a suffix derived from
their own course id (stable: it does not depend on which rows the file holds). Across the sources sent to
one account the same holds (unique_at_account): what the account already holds of another source's
keeps its slug and title, and a course of this source that would clash gets the suffix (slug) or is
rejected with the reason (title), as within a catalog."""

from __future__ import annotations

import hashlib
from typing import ClassVar

import pandas as pd

from ...catalog.schema import TITLE_MAX
from ..base import (
    CourseBundle,
    PayloadBuilder,
    PayloadItem,
    PayloadSet,
    VendorReject,
    VendorRejected,
    canonical_json,
    content_hash,
)
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


def _suffixed(slug: str, course_id: str, taken: set[str]) -> str:
    digest = hashlib.sha256(course_id.encode()).hexdigest()
    for length in range(6, len(digest) + 1):
        if (candidate := f"{slug}-{digest[:length]}") not in taken:
            return candidate
    raise AssertionError("unreachable")


def unique_at_account(payloads: PayloadSet, held: dict[str, tuple[str, dict]]) -> PayloadSet:
    """This source's items with slugs and titles unique across the account. `held`: course id ->
    (source, landed body) of what the account holds of the other sources (the ledger's record)."""
    slugs = {body.get("slug"): (cid, source) for cid, (source, body) in held.items() if body.get("slug")}
    titles = {str(body.get("title", "")).casefold(): (cid, source) for cid, (source, body) in held.items()}
    if not slugs and not titles:
        return payloads
    out = PayloadSet(payloads.vendor, rejects=list(payloads.rejects))
    taken = set(slugs) | {item.body.get("slug") for item in payloads.items}
    for item in payloads.items:
        body = item.body
        owner = titles.get(str(body["title"]).casefold())
        if owner is not None:
            out.rejects.append(VendorReject(item.vendor, item.course_id, "duplicate_title",
                                            f"title {body['title']!r} is also course {owner[0]}'s, of source "
                                            f"{owner[1]!r}, at this account; Thought Industries needs titles "
                                            "unique in the instance", item.origin))
            continue
        if body.get("slug") in slugs:
            body["slug"] = _suffixed(body["slug"], item.course_id, taken)
            taken.add(body["slug"])
            body_json = canonical_json(body)
            item = PayloadItem(item.vendor, item.course_id, body_json, content_hash(body_json), item.origin,
                               item.part_rows)
        out.items.append(item)
    return out


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
