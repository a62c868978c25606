"""Kombo unified LMS: bulk upsert of EXTERNAL courses keyed by origin_id (our course id).

Fields we no longer have are sent as null, so an upsert clears them on the LMS too."""

from __future__ import annotations

import time
from typing import ClassVar

from ..ledger import State
from .base import CourseBundle, Vendor, VendorRejected
from .languages import language_region, unique
from .sync import Result, Send, VendorClient
from .text import plain_text
from .transport import NotSent, TransportError


class Kombo(Vendor):
    name: ClassVar[str] = "kombo"

    def request_body(self, items: list[dict]) -> dict:
        return {"items": items}

    def build(self, bundle: CourseBundle) -> dict:
        course = bundle.course
        if not course.get("course_url"):
            raise VendorRejected("course_url_required", "Kombo courses are EXTERNAL and need a course_url "
                                                        "(the page where learners open the course)")
        if course["status"] == "archived":
            raise VendorRejected("archived", "archived: Kombo has no archived state; a course synced before is "
                                             "deactivated instead")
        duration = course.get("duration_minutes")
        languages = unique([language_region(tag) for tag in course["languages"]])
        return {"origin_id": course["course_id"], "course": {
            "type": "EXTERNAL",
            "title": course["title"],
            "course_url": course["course_url"],
            "description": plain_text(course.get("description")) or None,
            "thumbnail_url": course.get("image_url"),
            "duration": int(duration) if duration and duration > 0 else None,
            "languages": languages or None,
        }}


# ------------------------------------------------------------------------------------------ client

class KomboClient(VendorClient):
    """Bulk upserts keyed by origin_id; each batch is a task polled until COMPLETED or FAILED. A repeat
    sends the identical body, which Kombo answers with the same task, so retries are always safe."""

    vendor = "kombo"
    batch_size = 100
    workers = 8

    def __init__(self, transport, account, *, poll_first: float = 1.0, poll_factor: float = 1.5,
                 poll_cap: float = 10.0, deadline: float = 600.0):
        super().__init__(transport, account)
        self.poll_first, self.poll_factor, self.poll_cap, self.deadline = poll_first, poll_factor, poll_cap, deadline

    def send(self, batch: list[Send]) -> list[Result]:
        ids = [s.item.course_id for s in batch]
        try:
            response = self.transport.request("POST", "/lms/courses/bulk", idempotent=True,
                                              json={"items": [s.item.body for s in batch]})
            if response.status_code != 200:
                return _all(ids, "failed", response, self.transport.redact)
            task_id = response.json()["data"]["task_id"]
            task = self._wait_for(task_id)
        except TransportError as exc:
            status = "failed" if isinstance(exc, NotSent) else "unknown"  # unknown here is safe to re-send
            return [Result(cid, status, exc.status, "NOT_SENT" if status == "failed" else "ANSWER_LOST",
                           exc.message, attempts=exc.attempts) for cid in ids]
        if task is None:
            return [Result(cid, "unknown", None, "TASK_TIMEOUT",
                           f"task {task_id} not finished within {self.deadline:.0f} s") for cid in ids]
        if task["status"] == "FAILED":
            error = task.get("error") or {}
            return [Result(cid, "failed", 200, error.get("code"), error.get("message")) for cid in ids]
        results = {entry["origin_id"]: entry for entry in task.get("data") or []}
        out = []
        for send in batch:
            entry = results.get(send.item.course_id)
            if entry is None:
                out.append(Result(send.item.course_id, "unknown", 200, "MISSING_RESULT",
                                  "the completed task holds no result for this item"))
            elif entry["status"] == "SUCCEEDED":
                status = "created" if send.action == "create" else "updated"
                out.append(Result(send.item.course_id, status, 200, vendor_id=(entry.get("data") or {}).get("id")))
            else:
                error = entry.get("error") or {}
                out.append(Result(send.item.course_id, "failed", 200, error.get("code"), error.get("message")))
        return out

    def _wait_for(self, task_id: str) -> dict | None:
        """Poll with backoff until the task is COMPLETED or FAILED; None past the deadline."""
        give_up = time.monotonic() + self.deadline
        delay = self.poll_first
        while time.monotonic() < give_up:
            time.sleep(min(delay, max(give_up - time.monotonic(), 0)))
            response = self.transport.request("GET", f"/lms/courses/bulk/{task_id}", idempotent=True)
            if response.status_code == 200:
                task = response.json()["data"]
                if task["status"] in ("COMPLETED", "FAILED"):
                    return task
            elif response.status_code != 404:  # 404: not visible yet on a replica; keep polling
                raise TransportError(f"kombo task {task_id}: {response.status_code} {response.text[:300]}",
                                     status=response.status_code)
            delay = min(delay * self.poll_factor, self.poll_cap)
        return None

    def deactivate(self, states: list[State]) -> list[Result]:
        out = []
        for state in states:
            target = state.vendor_id
            if not target:
                out.append(Result(state.course_id, "failed", None, "NO_VENDOR_ID",
                                  "the ledger has no Kombo id for this course"))
                continue
            try:
                response = self.transport.request("POST", f"/lms/courses/{target}/deactivate", idempotent=True,
                                                  json={})
            except TransportError as exc:
                out.append(Result(state.course_id, "failed", exc.status, "NOT_DEACTIVATED", exc.message,
                                  attempts=exc.attempts))
                continue
            if response.status_code == 200:
                out.append(Result(state.course_id, "deactivated", 200, vendor_id=target, attempts=response.attempts))
            else:
                out.append(_all([state.course_id], "failed", response, self.transport.redact)[0])
        return out


def _all(ids: list[str], status: str, response, redact) -> list[Result]:
    """Kombo's error shape {status: error, error: {code, title, message}} for every item of a request."""
    try:
        error = response.json().get("error") or {}
    except ValueError:
        error = {"message": response.text[:300]}
    return [Result(cid, status, response.status_code, error.get("code"), redact(error.get("message") or ""),
                   attempts=getattr(response, "attempts", 1)) for cid in ids]
