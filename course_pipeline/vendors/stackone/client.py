"""StackOne's batch upsert: errors[i] is item i's word, a 202 only "accepted"; deactivation is an upsert of
the complete item with `active: false`.

- 202 with an empty errors[i] says StackOne took the item for processing, not that it landed. Each such
  item is then looked up by its external_reference (`GET /unified/lms/courses?filter[external_reference]=`,
  documented in StackOne's SDK as LmsListCoursesQueryParamFilter.externalReference): found as sent, it is
  created / updated / deactivated; not found (yet), or the lookup failed, it is `accepted`, and the next
  sync sends it again (an upsert by external_reference cannot duplicate) and looks again.
- Deactivation sends the landed item (the ledger keeps it), else the course as StackOne
  lists it, with `active: false`: StackOne answers "Missing field: …" for an incomplete item.
- unified_custom_fields: only the keys configured in the StackOne project (STACKONE_CUSTOM_FIELDS) are
  sent; the others are left out and named in the item's outcome (StackOne refuses unconfigured ones, and
  one stray key must not keep the whole course out).
- The batch endpoint (STACKONE_BATCH_PATH): the course batch by default; `/unified/lms/content/batch`
  sends each course as one content item (no lookup by external_reference is documented for content, so
  those stay `accepted`). A 404 or 410 stops this vendor's run with one line naming STACKONE_BATCH_PATH.
"""

from __future__ import annotations

from typing import Any

import orjson

from ...ledger import State
from ..client import ACCEPTED, Change, Result, VendorClient, undelivered, upserted
from ..transport import Limits, TransportError

# The seed's endpoint, still in StackOne's API reference
# (https://docs.stackone.com/lms/api-reference/courses/batch-upsert-course); its SDKs since July 2025
# keep only the content batch (lmsBatchUpsertContent). Configurable: STACKONE_BATCH_PATH.
BATCH_PATH = "/unified/lms/courses/batch"
CONTENT_BATCH_PATH = "/unified/lms/content/batch"
COURSES_PATH = "/unified/lms/courses"
# Fields of a course item we send, and what StackOne's course list gives back of them.
COURSE_FIELDS = ("external_reference", "title", "description", "languages", "cover_url", "url", "active",
                 "duration", "categories", "skills", "content", "localizations", "unified_custom_fields")
# Compared after the lookup: what says the version found is the one sent.
CONFIRMED_BY = ("title", "active")


def content_item(course: dict) -> dict:
    """A course item as a content item (the content batch): `url` becomes `content_url`; lessons
    (content[]) have no place in it."""
    item = {k: v for k, v in course.items() if k not in ("url", "content")}
    if course.get("url"):
        item["content_url"] = course["url"]
    return item


def parse_custom_fields(value: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    names = value.split(",") if isinstance(value, str) else value
    return tuple(name.strip() for name in names if name.strip())


class StackOneClient(VendorClient):
    """Batch upserts keyed by external_reference; errors[i] is item i's word, a lookup confirms it.
    Deactivation is an upsert of the complete item with `active: false`."""

    vendor = "stackone"
    limits = Limits(requests=10, window=1.0)  # default 10 requests / s (vendor-contracts.md §3)
    batch_size = 100
    workers = 4

    def __init__(self, transport, account, *, batch_path: str = BATCH_PATH,
                 custom_fields: str | tuple[str, ...] | None = None, confirm: bool = True):
        super().__init__(transport, account)
        self.batch_path = batch_path
        self.custom_fields = parse_custom_fields(custom_fields)
        self.content_dialect = batch_path.rstrip("/").endswith("/content/batch")
        self.confirm = confirm and not self.content_dialect

    # ------------------------------------------------------------------------------ what is sent

    def send(self, batch: list[Change]) -> list[Result]:
        entries = []
        for change in batch:
            landed = upserted(change)
            if change.state is not None and change.state.status == ACCEPTED:
                landed = "reconciled"  # the earlier, accepted send may be the one that put it there
            entries.append((change.item.course_id, change.item.body, landed))
        return self._batch(entries)

    def deactivate(self, states: list[State]) -> list[Result]:
        entries, missing = [], []
        for state in states:
            item = self._complete_item(state)
            if item is None:
                missing.append(Result(state.course_id, "failed", error_code="NO_COMPLETE_ITEM", error_message=(
                    "StackOne needs the whole item to deactivate it, and neither the ledger nor StackOne's "
                    "course list has it: deactivate it in StackOne by hand")))
            else:
                entries.append((state.course_id, {**item, "active": False}, "deactivated"))
        return missing + (self._batch(entries) if entries else [])

    def _complete_item(self, state: State) -> dict | None:
        if state.payload_json:
            return orjson.loads(state.payload_json)
        found = self._lookup(state.course_id)  # landed before the ledger kept StackOne's payloads
        if not isinstance(found, dict):
            return None
        return {k: found[k] for k in COURSE_FIELDS if found.get(k) is not None}

    def _configured(self, body: dict) -> tuple[dict, list[str]]:
        """The body with only the project's custom fields, and the names left out."""
        fields = body.get("unified_custom_fields")
        if not fields:
            return body, []
        kept = {k: v for k, v in fields.items() if k in self.custom_fields}
        dropped = sorted(set(fields) - set(kept))
        body = {k: v for k, v in body.items() if k != "unified_custom_fields"}
        if kept:
            body["unified_custom_fields"] = kept
        return body, dropped

    def _as_sent(self, body: dict) -> tuple[dict, list[str]]:
        """The item as it goes out (only configured custom fields; a content item in the content dialect),
        and the custom fields left out."""
        body, dropped = self._configured(body)
        return (content_item(body) if self.content_dialect else body), dropped

    def request_body(self, bodies: list[dict]) -> dict:
        return {"items": [self._as_sent(body)[0] for body in bodies]}

    # ------------------------------------------------------------------------------ the batch

    def _batch(self, entries: list[tuple[str, dict, str]]) -> list[Result]:
        ids = [cid for cid, _, _ in entries]
        if self.halt:  # the endpoint is gone: nothing more goes to it this run
            return [Result(cid, "failed", error_code="ENDPOINT_GONE", error_message=f"not sent: {self.halt}")
                    for cid in ids]
        sent, notes = [], {}
        for cid, body, _ in entries:
            body, dropped = self._as_sent(body)
            if dropped:
                notes[cid] = (f"unified_custom_fields not sent: {', '.join(dropped)} (not in STACKONE_CUSTOM_FIELDS, "
                              "the fields configured in the StackOne project)")
            sent.append(body)
        try:
            response = self.transport.request("POST", self.batch_path, idempotent=True, json={"items": sent})
        except TransportError as exc:
            return undelivered(ids, exc)  # an upsert: an unknown item is safe to re-send
        if response.status_code != 202:
            message = self._message(response)
            if response.status_code in (404, 410):
                self.halt = self._gone(response.status_code, message)
                return [Result(cid, "failed", response.status_code, "ENDPOINT_GONE", self.halt,
                               attempts=response.attempts) for cid in ids]
            return [Result(cid, "failed", response.status_code, str(response.status_code), message,
                           attempts=response.attempts) for cid in ids]
        errors = response.json().get("errors") or []
        out = []
        for i, ((cid, _, landed_status), body) in enumerate(zip(entries, sent, strict=True)):
            problems = errors[i] if i < len(errors) else ["no answer for this item"]
            if problems:
                out.append(Result(cid, "failed", 202, "ITEM_REJECTED", "; ".join(map(str, problems)),
                                  attempts=response.attempts))
                continue
            status, why = self._confirmed(cid, body, landed_status)
            note = "; ".join(n for n in (why, notes.get(cid)) if n) or None
            out.append(Result(cid, status, 202, "CUSTOM_FIELDS_NOT_SENT" if cid in notes else None, note,
                              attempts=response.attempts))
        return out

    def _confirmed(self, course_id: str, body: dict, landed_status: str) -> tuple[str, str | None]:
        """The item's status after a 202: landed when StackOne lists it as sent, else accepted (and why)."""
        if not self.confirm:
            return ACCEPTED, ("accepted (202), not confirmed: StackOne documents no lookup of content items "
                              "by external_reference; sent again next sync")
        found = self._lookup(course_id)
        if isinstance(found, str):
            return ACCEPTED, f"accepted (202), not confirmed: the lookup failed ({found}); sent again next sync"
        if found is None or any(found.get(k) != body.get(k) for k in CONFIRMED_BY if k in body):
            return ACCEPTED, ("accepted (202), not yet processed: StackOne does not list it as sent yet; "
                              "sent again next sync")
        return landed_status, None

    def _lookup(self, course_id: str) -> dict | str | None:
        """The course StackOne lists under this external_reference, None if none, or why the lookup failed."""
        try:
            response = self.transport.request("GET", COURSES_PATH, idempotent=True,
                                              params={"filter[external_reference]": course_id})
        except TransportError as exc:
            return exc.message
        if response.status_code != 200:
            return f"{response.status_code}: {self._message(response)}"
        try:
            data = response.json().get("data") or []
        except ValueError:
            return "an answer that is not JSON"
        return next((c for c in data if isinstance(c, dict) and c.get("external_reference") == course_id), None)

    def _message(self, response: Any) -> str:
        try:
            message = str(response.json().get("message"))
        except (ValueError, AttributeError):
            message = response.text[:300]
        return self.transport.redact(message)

    def _gone(self, status: int, message: str) -> str:
        account = " (or, for a 404, the account in STACKONE_ACCOUNT_ID is not StackOne's)" if status == 404 else ""
        return (f"stackone: POST {self.batch_path} answered {status} ({message}): the batch endpoint is gone"
                f"{account}; set STACKONE_BATCH_PATH to the one StackOne now documents, e.g. {CONTENT_BATCH_PATH}")
