"""Thought Industries: one course per request, looked up by externalId (our course id).

Descriptions keep only the basic HTML the vendor allows (p strong em ul li a), sanitised by nh3.
Slugs are lowercase-hyphen, from the source's slug or the title, unique within the catalog: where two
courses would share one, the first in catalog order keeps it and the others get a suffix derived from
their own course id (stable: it does not depend on which rows the file holds)."""

from __future__ import annotations

import hashlib
from typing import ClassVar

import orjson
import pandas as pd

from ..catalog.schema import TITLE_MAX
from ..ledger import State
from .base import CourseBundle, Vendor, VendorRejected
from .sync import Result, Send, VendorClient
from .text import basic_html, slugify
from .transport import NotSent, TransportError

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


class ThoughtIndustries(Vendor):
    name: ClassVar[str] = "thought_industries"

    def __init__(self):
        self.slugs: dict[str, str] = {}
        self.title_owner: dict[str, str] = {}

    def prepare(self, courses: pd.DataFrame) -> None:
        self.slugs = unique_slugs(courses)
        self.title_owner = {}
        for cid, title in zip(courses["course_id"], courses["title"], strict=True):
            self.title_owner.setdefault(title.strip().casefold(), cid)

    def request_body(self, bodies: list[dict]) -> dict:
        (body,) = bodies  # one course per request
        return body

    def build(self, bundle: CourseBundle) -> dict:
        course = bundle.course
        title = course["title"]
        if len(title) > TITLE_MAX:
            raise VendorRejected("title_length", f"title has {len(title)} characters; Thought Industries takes "
                                                 f"{TITLE_MAX} at most")
        owner = self.title_owner.get(title.strip().casefold(), course["course_id"])
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
            "authors": list(course["authors"]),
            "tags": dedupe_tags(course["tags"]),
            "customFields": dict(course.get("custom_fields") or {}),
            "isFree": bool(course["is_free"]),
        }
        if course.get("source"):
            body["source"] = course["source"]
        return body


# ------------------------------------------------------------------------------------------ client

COURSES_PATH = "/incoming/v2/courses"


class ThoughtIndustriesClient(VendorClient):
    """One course per request, worker threads under the shared limiter (100 per minute). A create is
    POSTed; since externalId is unique, a repeat answers DUPLICATE_EXTERNAL_ID, which is reconciled by
    lookup, so a lost answer never makes a second course. Updates PUT only the changed fields (the
    ledger keeps the landed body to compare with)."""

    vendor = "thought_industries"
    batch_size = 1
    workers = 4
    keeps_payload = True

    def send(self, batch: list[Send]) -> list[Result]:
        (send,) = batch
        try:
            if send.action == "update" and send.state is not None and send.state.vendor_id:
                # A course we archived holds the landed body but not its status: send every field.
                previous = {} if send.state.status == "deactivated" else _previous(send.state)
                result = self._update(send, send.state.vendor_id, previous)
                if result is not None:
                    return [result]
            return [self._create(send)]
        except TransportError as exc:
            status = "failed" if isinstance(exc, NotSent) else "unknown"  # unique externalId: safe to re-send
            return [Result(send.item.course_id, status, exc.status, "NOT_SENT" if status == "failed" else "ANSWER_LOST",
                           exc.message, attempts=exc.attempts)]

    def _create(self, send: Send) -> Result:
        cid, body = send.item.course_id, send.item.body
        response = self.transport.request("POST", COURSES_PATH, json=body, idempotent=True)
        if response.status_code == 201:
            return Result(cid, "created", 201, vendor_id=response.json().get("id"), attempts=response.attempts)
        code, message = _error(response)
        if code == "DUPLICATE_EXTERNAL_ID":
            found = self._lookup(cid)
            if found is not None:  # ours already (an earlier answer was lost): bring it up to date
                result = self._update(send, found["id"], found, status="created" if send.action == "create" else None)
                if result is not None:
                    return result
        return Result(cid, "failed", response.status_code, code, self.transport.redact(message),
                      attempts=response.attempts)

    def _update(self, send: Send, vendor_id: str, previous: dict, status: str | None = None) -> Result | None:
        """PUT the fields that differ from `previous`; None when the course is gone there (create it)."""
        body = send.item.body
        changed = {key: value for key, value in body.items() if previous.get(key) != value}
        landed = status or "updated"
        if not changed:
            return Result(send.item.course_id, landed, 200, vendor_id=vendor_id)
        response = self.transport.request("PUT", f"{COURSES_PATH}/{vendor_id}", json=changed, idempotent=True)
        if response.status_code == 404:
            return None
        if response.status_code == 200:
            return Result(send.item.course_id, landed, 200, vendor_id=vendor_id, attempts=response.attempts)
        code, message = _error(response)
        return Result(send.item.course_id, "failed", response.status_code, code, self.transport.redact(message),
                      attempts=response.attempts)

    def _lookup(self, course_id: str) -> dict | None:
        response = self.transport.request("GET", COURSES_PATH, params={"externalId": course_id}, idempotent=True)
        if response.status_code != 200:
            return None
        courses = response.json().get("courses") or []
        return next((c for c in courses if c.get("externalId") == course_id), None)

    def deactivate(self, states: list[State]) -> list[Result]:
        out = []
        for state in states:
            try:
                vendor_id = state.vendor_id or (self._lookup(state.course_id) or {}).get("id")
                if not vendor_id:
                    out.append(Result(state.course_id, "failed", None, "NOT_FOUND",
                                      "the course is not on Thought Industries any more"))
                    continue
                response = self.transport.request("PUT", f"{COURSES_PATH}/{vendor_id}",
                                                  json={"publishedStatus": "archived"}, idempotent=True)
            except TransportError as exc:
                out.append(Result(state.course_id, "failed", exc.status, "NOT_DEACTIVATED", exc.message,
                                  attempts=exc.attempts))
                continue
            if response.status_code == 200:
                out.append(Result(state.course_id, "deactivated", 200, vendor_id=vendor_id,
                                  attempts=response.attempts))
            else:
                code, message = _error(response)
                out.append(Result(state.course_id, "failed", response.status_code, code,
                                  self.transport.redact(message), attempts=response.attempts))
        return out


def _previous(state: State) -> dict:
    return orjson.loads(state.payload_json) if state.payload_json else {}


def _error(response) -> tuple[str | None, str]:
    """Thought Industries' {error, message, code, statusCode}."""
    try:
        body = response.json()
    except ValueError:
        return str(response.status_code), response.text[:300]
    return body.get("code") or str(response.status_code), str(body.get("message") or body.get("error") or "")
