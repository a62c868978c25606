"""Kombo's bulk upsert: each batch is a task, polled until COMPLETED or FAILED."""

from __future__ import annotations

import time

from ...ledger import State
from ..client import Change, Result, VendorClient, not_deactivated, undelivered, upserted
from ..transport import Limits, TransportError


class KomboClient(VendorClient):
    """Bulk upserts keyed by origin_id; each batch is a task polled until COMPLETED or FAILED. A repeat
    sends the identical body, which Kombo answers with the same task, so retries are always safe."""

    vendor = "kombo"
    limits = Limits(concurrency=30)  # 30 requests in flight per integration (vendor-contracts.md §2)
    batch_size = 100
    workers = 8

    def __init__(self, transport, account, *, poll_first: float = 1.0, poll_factor: float = 1.5,
                 poll_cap: float = 10.0, deadline: float = 300.0):
        super().__init__(transport, account)
        self.poll_first, self.poll_factor, self.poll_cap, self.deadline = poll_first, poll_factor, poll_cap, deadline

    def send(self, batch: list[Change]) -> list[Result]:
        ids = [s.item.course_id for s in batch]
        try:
            response = self.transport.request("POST", "/lms/courses/bulk", idempotent=True,
                                              json={"items": [s.item.body for s in batch]})
        except TransportError as exc:
            return undelivered(ids, exc)  # unknown here is safe to re-send: the identical body
        if response.status_code != 200:
            return _all(ids, "failed", response, self.transport.redact)
        task_id = response.json()["data"]["task_id"]
        try:
            task = self._wait_for(task_id)
        except TransportError as exc:  # the task runs whether or not we can see it: never "not sent"
            return undelivered(ids, exc, after=f"kombo accepted task {task_id}")
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
                out.append(Result(send.item.course_id, upserted(send), 200,
                                  vendor_id=(entry.get("data") or {}).get("id")))
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
