"""Kombo's bulk upsert: each batch is a task, polled until COMPLETED or FAILED.

Kombo answers a body it has seen for the integration with the task it made then (vendor-contracts.md §2).
That makes a retry of a lost answer safe, and it would also hand back an old result where a new one is
needed: a course re-added after its deactivation, an item whose send failed, content changed back to an
earlier version. So a payload whose earlier send got an answer goes out marked (resend_marked), and one
whose answer was lost goes out as it was (the engine counts the answers: Change.answered).
"""

from __future__ import annotations

import time

from ...ledger import State
from ..client import Change, Result, VendorClient, not_deactivated, undelivered, upserted
from ..transport import Limits, TransportError

# Kombo's per-item code for an LMS that cannot change a course it holds: no repeat makes it possible.
UPDATE_NOT_SUPPORTED = "LMS.COURSE_UPDATE_NOT_SUPPORTED"


def resend_marked(item: dict, answered: int) -> dict:
    """The item as sent after `answered` earlier sends of it got an answer: unchanged the first time, else
    with `resend-<n>` in course_url's fragment, which a browser never sends to the course's server (RFC 3986
    §3.5), or in its query when the URL has a fragment of its own (an app's route). course_url is the one
    field of the schema that every item has and that Kombo takes as any string."""
    if not answered:
        return item
    url = item["course"]["course_url"]
    base, hashed, fragment = url.partition("#")
    marked = (f"{base}{'&' if '?' in base else '?'}resend={answered}#{fragment}" if hashed
              else f"{url}#resend-{answered}")
    return {**item, "course": {**item["course"], "course_url": marked}}


class KomboClient(VendorClient):
    """Bulk upserts keyed by origin_id; each batch is a task polled until COMPLETED or FAILED. A repeat
    of a request sends the identical body, which Kombo answers with the same task, so retries are safe."""

    vendor = "kombo"
    # 30 requests in flight per integration until Kombo's Concurrency-* headers say otherwise
    # (https://docs.kombo.dev/lms/guides/concurrency-limiting; the transport follows them).
    limits = Limits(concurrency=30)
    batch_size = 100
    workers = 8
    dedupes_identical_bodies = True

    def __init__(self, transport, account, *, poll_first: float = 1.0, poll_factor: float = 1.5,
                 poll_cap: float = 10.0, deadline: float = 300.0):
        super().__init__(transport, account)
        self.poll_first, self.poll_factor, self.poll_cap, self.deadline = poll_first, poll_factor, poll_cap, deadline

    def request_body(self, bodies: list[dict]) -> dict:
        return {"items": bodies}

    def send(self, batch: list[Change]) -> list[Result]:
        ids = [s.item.course_id for s in batch]
        try:
            response = self.transport.request("POST", "/lms/courses/bulk", idempotent=True, json=self.request_body(
                [resend_marked(s.item.body, s.answered) for s in batch]))
        except TransportError as exc:
            return undelivered(ids, exc)  # unknown here is safe to re-send: the identical body
        if response.status_code != 200:
            return _all(ids, "failed", response, self.transport.redact)
        answer = response.json()
        task_id = answer["data"]["task_id"]
        warned = self._warnings(answer, f"task {task_id}")
        try:
            task = self._wait_for(task_id)
        except TransportError as exc:  # the task runs whether or not we can see it: never "not sent"
            lost = undelivered(ids, exc, after=f"kombo accepted task {task_id}")
            for result in lost:
                result.error_message = _with(result.error_message, warned)
            return lost
        if task is None:
            return [Result(cid, "unknown", None, "TASK_TIMEOUT", _with(f"task {task_id} not finished within "
                                                                       f"{self.deadline:.0f} s", warned))
                    for cid in ids]
        if task["status"] == "FAILED":  # no item was processed: all failed, retried (marked) next run
            error = task.get("error") or {}
            return [Result(cid, "failed", 200, error.get("code"),
                           _with(f"task {task_id} failed: {error.get('message')}", warned)) for cid in ids]
        results = {entry["origin_id"]: entry for entry in task.get("data") or []}
        out = []
        for send in batch:
            entry = results.get(send.item.course_id)
            if entry is None:
                out.append(Result(send.item.course_id, "unknown", 200, "MISSING_RESULT",
                                  _with("the completed task holds no result for this item", warned)))
            elif entry["status"] == "SUCCEEDED":
                out.append(Result(send.item.course_id, upserted(send), 200, error_message=_with(None, warned),
                                  vendor_id=(entry.get("data") or {}).get("id")))
            else:
                error = entry.get("error") or {}
                status = "rejected" if error.get("code") == UPDATE_NOT_SUPPORTED else "failed"
                out.append(Result(send.item.course_id, status, 200, error.get("code"),
                                  _with(error.get("message"), warned)))
        return out

    def _warnings(self, answer: dict, what: str) -> str | None:
        """Kombo's `warnings` ("we recommend logging them"): said in the run's log, and returned for the
        outcome of every item of the request."""
        messages = [str(w.get("message")) for w in answer.get("warnings") or [] if isinstance(w, dict)]
        if not messages:
            return None
        text = self.transport.redact("; ".join(messages))
        self.notify(f"kombo {what}: warning: {text}")
        return text

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
                raise TransportError(self.transport.redact(f"kombo task {task_id}: {response.status_code} "
                                                           f"{response.text[:300]}"),
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
                out.append(not_deactivated(state.course_id, exc))
                continue
            if response.status_code == 200:
                warned = self._warnings(response.json(), f"deactivating {target}")
                out.append(Result(state.course_id, "deactivated", 200, error_message=_with(None, warned),
                                  vendor_id=target, attempts=response.attempts))
            else:
                out.append(_all([state.course_id], "failed", response, self.transport.redact)[0])
        return out


def _with(message: str | None, warnings: str | None) -> str | None:
    """An item's message with the request's warnings after it."""
    if not warnings:
        return message
    return f"{message} (Kombo warnings: {warnings})" if message else f"Kombo warnings: {warnings}"


def _all(ids: list[str], status: str, response, redact) -> list[Result]:
    """Kombo's error shape {status: error, error: {code, title, message}} for every item of a request."""
    try:
        error = response.json().get("error") or {}
    except ValueError:
        error = {"message": response.text[:300]}
    return [Result(cid, status, response.status_code, error.get("code"), redact(error.get("message") or ""),
                   attempts=getattr(response, "attempts", 1)) for cid in ids]
