"""StackOne unified LMS: batch upsert keyed by external_reference (our course id).

Languages go as locale codes ('en-GB' -> en_GB; a bare 'de' takes its likely region, de_DE) with the
original tag in source_value; a tag with no region to be had goes as unmapped_value. Lessons become
content[] in learner order; tags become categories[]."""

from __future__ import annotations

from typing import ClassVar

from ..ledger import State
from .base import CourseBundle, Vendor
from .languages import locale_code
from .sync import Result, Send, VendorClient
from .text import plain_text
from .transport import NotSent, TransportError


def iso_duration(minutes: int) -> str:
    """90 -> PT1H30M; hours are not folded into days (a day of a course is not 24 hours of it)."""
    hours, rest = divmod(int(minutes), 60)
    return "PT" + (f"{hours}H" if hours else "") + (f"{rest}M" if rest or not hours else "")


def _without_none(mapping: dict) -> dict:
    return {k: v for k, v in mapping.items() if v is not None}


class StackOne(Vendor):
    name: ClassVar[str] = "stackone"
    sends_parts = ("lessons",)

    def request_body(self, items: list[dict]) -> dict:
        return {"items": items}

    def build(self, bundle: CourseBundle) -> dict:
        course = bundle.course
        duration = course.get("duration_minutes")
        content = [_without_none({
            "external_reference": lesson["lesson_id"],
            "title": lesson["title"],
            "description": plain_text(lesson.get("description")) or None,
            "content_url": lesson.get("video_url"),
            "order": order,
        }) for order, lesson in enumerate(bundle.lessons, start=1)]
        return _without_none({
            "external_reference": course["course_id"],
            "title": course["title"],
            "description": plain_text(course.get("description")) or None,
            "languages": [{"value": locale_code(tag) or "unmapped_value", "source_value": tag}
                          for tag in course["languages"]] or None,
            "cover_url": course.get("image_url"),
            "url": course.get("course_url"),
            "active": course["status"] == "published",
            "duration": iso_duration(duration) if duration else None,
            "categories": [{"name": tag} for tag in course["tags"]] or None,
            "content": content or None,
            "unified_custom_fields": course.get("custom_fields") or None,
        })


# ------------------------------------------------------------------------------------------ client

# StackOne's newer SDKs no longer list the course batch endpoint; the path is configurable
# (STACKONE_BATCH_PATH) in case it moves.
BATCH_PATH = "/unified/lms/courses/batch"


class StackOneClient(VendorClient):
    """Batch upserts keyed by external_reference; errors[i] is item i's outcome. Deactivation is an
    upsert of `active: false`."""

    vendor = "stackone"
    batch_size = 100
    workers = 4

    def __init__(self, transport, account, *, batch_path: str = BATCH_PATH):
        super().__init__(transport, account)
        self.batch_path = batch_path

    def send(self, batch: list[Send]) -> list[Result]:
        return self._batch([(s.item.course_id, s.item.body, "created" if s.action == "create" else "updated")
                            for s in batch])

    def deactivate(self, states: list[State]) -> list[Result]:
        return self._batch([(s.course_id, {"external_reference": s.course_id, "active": False}, "deactivated")
                            for s in states])

    def _batch(self, entries: list[tuple[str, dict, str]]) -> list[Result]:
        ids = [cid for cid, _, _ in entries]
        try:
            response = self.transport.request("POST", self.batch_path, idempotent=True,
                                              json={"items": [body for _, body, _ in entries]})
        except TransportError as exc:
            status = "failed" if isinstance(exc, NotSent) else "unknown"  # an upsert: safe to re-send
            return [Result(cid, status, exc.status, "NOT_SENT" if status == "failed" else "ANSWER_LOST",
                           exc.message, attempts=exc.attempts) for cid in ids]
        if response.status_code != 202:
            try:
                message = str(response.json().get("message"))
            except ValueError:
                message = response.text[:300]
            return [Result(cid, "failed", response.status_code, str(response.status_code),
                           self.transport.redact(message), attempts=response.attempts) for cid in ids]
        errors = response.json().get("errors") or []
        out = []
        for i, (cid, _, landed_status) in enumerate(entries):
            problems = errors[i] if i < len(errors) else ["no answer for this item"]
            if problems:
                out.append(Result(cid, "failed", 202, "ITEM_REJECTED", "; ".join(map(str, problems)),
                                  attempts=response.attempts))
            else:
                out.append(Result(cid, landed_status, 202, attempts=response.attempts))
        return out
