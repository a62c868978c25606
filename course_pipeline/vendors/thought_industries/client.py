"""Thought Industries: one course a request, looked up by externalId when an answer was lost."""

from __future__ import annotations

import orjson

from ...ledger import State
from ..client import Change, Result, VendorClient, not_deactivated, undelivered
from ..transport import Limits, TransportError

COURSES_PATH = "/incoming/v2/courses"


class ThoughtIndustriesClient(VendorClient):
    """One course per request, worker threads under the shared limiter (100 per minute). A create is
    POSTed; since externalId is unique, a repeat answers DUPLICATE_EXTERNAL_ID, which is reconciled by
    lookup, so a lost answer never makes a second course. Updates PUT only the changed fields (the
    ledger keeps the landed body to compare with)."""

    vendor = "thought_industries"
    limits = Limits(requests=100, window=60.0)  # 100 requests / minute (vendor-contracts.md §4)
    batch_size = 1
    workers = 4
    keeps_payload = True

    def send(self, batch: list[Change]) -> list[Result]:
        (send,) = batch
        try:
            if send.action == "update" and send.state is not None and send.state.vendor_id:
                # The landed body is what the course holds only after a landed send; after an archive, a
                # lost answer or a failure, it may hold something else (archived, say): send every field.
                previous = _previous(send.state) if send.state.status in ("created", "updated", "reconciled") else {}
                result = self._update(send, send.state.vendor_id, previous)
                if result is not None:
                    return [result]
            return [self._create(send)]
        except TransportError as exc:
            return undelivered([send.item.course_id], exc)  # unique externalId: safe to re-send

    def _create(self, send: Change) -> Result:
        cid, body = send.item.course_id, send.item.body
        response = self.transport.request("POST", COURSES_PATH, json=body, idempotent=True)
        if response.status_code == 201:
            return Result(cid, "created", 201, vendor_id=response.json().get("id"), attempts=response.attempts)
        code, message = _error(response)
        if code == "DUPLICATE_EXTERNAL_ID":
            reconciled = self._reconcile(send)
            if reconciled is not None:
                return reconciled
        return Result(cid, "failed", response.status_code, code, self.transport.redact(message),
                      attempts=response.attempts)

    def _reconcile(self, send: Change) -> Result | None:
        """Ours is there already (an earlier answer was lost): find it by externalId and bring it up to
        date. `reconciled`, not `created`: no answer said this send made it. None when it is not found."""
        cid, found = send.item.course_id, None
        try:
            found = self._lookup(cid)
            if found is None:
                return None
            return self._update(send, found["id"], found, status="reconciled")
        except TransportError as exc:  # it is there; whatever failed now, it is not "not sent"
            (result,) = undelivered([cid], exc, after="Thought Industries holds a course with this externalId")
            result.vendor_id = found["id"] if found else None
            return result

    def _update(self, send: Change, vendor_id: str, previous: dict, status: str | None = None) -> Result | None:
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
            try:  # a lookup changes nothing: whatever its error, nothing was archived
                vendor_id = state.vendor_id or (self._lookup(state.course_id) or {}).get("id")
            except TransportError as exc:
                out.append(Result(state.course_id, "failed", exc.status, "NOT_DEACTIVATED", exc.message,
                                  attempts=exc.attempts))
                continue
            if not vendor_id:
                out.append(Result(state.course_id, "failed", None, "NOT_FOUND",
                                  "the course is not on Thought Industries any more"))
                continue
            try:
                response = self.transport.request("PUT", f"{COURSES_PATH}/{vendor_id}",
                                                  json={"publishedStatus": "archived"}, idempotent=True)
            except TransportError as exc:
                out.append(not_deactivated(state.course_id, exc))
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
