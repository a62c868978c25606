"""Thought Industries in either of its dialects, reconciled by slug when an answer was lost.

- `single` (the seed, vendor-contracts.md §4): `POST /incoming/v2/courses`, one course a request,
  `courseType`. For an instance that has only that endpoint.
- `bulk` (the documented API: developer.thoughtindustries.com/api-tutorials/create-courses/rate-limits):
  `POST /incoming/v2/content/course/create` with `courseAttributes[]` of up to 100 courses, each with a
  `kind` (CourseGroupKind) instead of `courseType`; the answer is mapped back to items by position,
  checked by slug. Use it for initial loads.

Either way updates are a PUT of the changed fields, and a repeat is safe because every body carries its
slug, which is unique in the instance: a course that landed answers 422 DUPLICATE_SLUG (the one
documented duplicate code), and is then found by the documented `GET /incoming/v2/courseGroups/slug/:slug`.
That is done only where an answer of ours may have been lost (the ledger says so, or this request took
more than one attempt); otherwise the slug belongs to someone else and the item fails with the reason.
"""

from __future__ import annotations

import orjson

from ...ledger import IN_FLIGHT, State
from ..base import PayloadSet
from ..client import Change, Result, VendorClient, not_deactivated, undelivered
from ..transport import Limits, TransportError
from .payload import unique_at_account

COURSES_PATH = "/incoming/v2/courses"
BULK_PATH = "/incoming/v2/content/course/create"
BY_SLUG_PATH = "/incoming/v2/courseGroups/slug"
DIALECTS = ("single", "bulk")
BULK_MAX = 100
# courseType -> CourseGroupKind (.../api-tutorials/create-courses/field-reference). learning_path and
# webinar have no documented kind: the bulk dialect cannot create them.
KINDS = {"course": "courseGroup", "video": "video", "article": "article", "scorm": "shareableContentObject",
         "xapi": "xApiObject"}


class ThoughtIndustriesClient(VendorClient):
    """Worker threads under the shared limiter: 60 requests a minute for course management
    (developer.thoughtindustries.com/docs/rest/rate-limits/), 1,000 an hour and 5 in flight
    (.../api-tutorials/create-courses/rate-limits, Standard plan). Updates PUT only the changed fields (the
    ledger keeps the landed body to compare with)."""

    vendor = "thought_industries"
    limits = Limits(requests=60, window=60.0, also=((1000, 3600.0),), concurrency=5)
    batch_size = 1
    workers = 4

    def __init__(self, transport, account: str, dialect: str = "single"):
        super().__init__(transport, account)
        if dialect not in DIALECTS:
            raise ValueError(f"THOUGHT_INDUSTRIES_DIALECT must be single or bulk, not {dialect!r}")
        self.dialect = dialect
        if dialect == "bulk":
            self.batch_size = BULK_MAX

    def at_account(self, payloads: PayloadSet, states: dict[str, State], source: str) -> PayloadSet:
        """Slugs and titles unique across every source sent to this account (the ledger knows what it holds)."""
        held = {cid: (state.source, _previous(state)) for cid, state in states.items()
                if state.source != source and state.holds_ours and state.payload_json}
        return unique_at_account(payloads, held)

    def send(self, batch: list[Change]) -> list[Result]:
        results, creates = [], []
        for send in batch:
            if send.action == "update" and send.state is not None and send.state.vendor_id:
                # The landed body is what the course holds only after a landed send; after an archive, a
                # lost answer or a failure, it may hold something else (archived, say): send every field.
                landed = send.state.status in ("created", "updated", "reconciled")
                try:
                    result = self._update(send, send.state.vendor_id, _previous(send.state) if landed else {})
                except TransportError as exc:
                    results += undelivered([send.item.course_id], exc)  # a PUT by id: safe to re-send
                    continue
                if result is not None:
                    results.append(result)
                    continue
            creates.append(send)  # new, or gone there
        if creates:
            results += self._create_bulk(creates) if self.dialect == "bulk" else \
                [r for send in creates for r in self._create_single(send)]
        return results

    # ------------------------------------------------------------------------------------- creates

    def request_body(self, bodies: list[dict]) -> dict:
        """single: the one course; bulk: courseAttributes[] of those whose course type has a kind (the
        others are not sent: KIND_UNSUPPORTED)."""
        if self.dialect == "single":
            (body,) = bodies
            return body
        return {"courseAttributes": [{**{k: v for k, v in body.items() if k != "courseType"},
                                      "kind": KINDS[body.get("courseType")]}
                                     for body in bodies if body.get("courseType") in KINDS]}

    def create_requests(self, bodies: list[dict]) -> list[dict]:
        if self.dialect == "single":  # one request a course, whatever the batch
            return [self.request_body([body]) for body in bodies]
        body = self.request_body(bodies)
        return [body] if body["courseAttributes"] else []

    def _create_single(self, send: Change) -> list[Result]:
        cid = send.item.course_id
        try:
            response = self.transport.request("POST", COURSES_PATH, json=self.request_body([send.item.body]),
                                              idempotent=True)
        except TransportError as exc:
            return undelivered([cid], exc)  # the slug is unique: a repeat cannot duplicate
        if response.status_code == 201:
            return [Result(cid, "created", 201, vendor_id=response.json().get("id"), attempts=response.attempts)]
        code, message = _error(response)
        return [self._refused(send, response.status_code, code, message, response.attempts)]

    def _create_bulk(self, sends: list[Change]) -> list[Result]:
        results, sendable = [], []
        for send in sends:
            if send.item.body.get("courseType") not in KINDS:
                results.append(Result(send.item.course_id, "failed", None, "KIND_UNSUPPORTED",
                                      f"Thought Industries documents no CourseGroupKind for course type "
                                      f"{send.item.body.get('courseType')!r}; the single dialect "
                                      "(THOUGHT_INDUSTRIES_DIALECT=single) can create it"))
                continue
            sendable.append(send)
        if not sendable:
            return results
        ids = [s.item.course_id for s in sendable]
        body = self.request_body([s.item.body for s in sendable])
        items = body["courseAttributes"]
        try:
            response = self.transport.request("POST", BULK_PATH, json=body, idempotent=True)
        except TransportError as exc:
            return results + undelivered(ids, exc)
        if response.status_code != 200:
            code, message = _error(response)
            return results + [Result(cid, "failed", response.status_code, code, self.transport.redact(message),
                                     attempts=response.attempts) for cid in ids]
        answers = _by_item(response.json().get("results") or [], items)
        for send, answer in zip(sendable, answers, strict=True):
            cid = send.item.course_id
            if answer is None:  # the vendor said nothing of it: it may be there
                results.append(Result(cid, "unknown", 200, "ANSWER_LOST", "the bulk answer has no result for it",
                                      attempts=response.attempts))
            elif answer.get("status") == "created":
                results.append(Result(cid, "created", 200, vendor_id=(answer.get("course") or {}).get("id"),
                                      attempts=response.attempts))
            else:
                error = answer.get("error") or {}
                results.append(self._refused(send, error.get("statusCode") or 200, error.get("code"),
                                             str(error.get("message") or ""), response.attempts))
        return results

    def _refused(self, send: Change, status: int, code: str | None, message: str, attempts: int) -> Result:
        """A create refused. DUPLICATE_SLUG where an answer of ours may have been lost is ours, landed."""
        lost_before = send.state is not None and send.state.status in ("unknown", IN_FLIGHT)
        if code == "DUPLICATE_SLUG" and (attempts > 1 or lost_before):
            reconciled = self._reconcile(send)
            if reconciled is not None:
                return reconciled
        if code == "DUPLICATE_SLUG":
            message = (f"{message} (slug {send.item.body.get('slug')!r} is held by a course this project did not "
                       "send to this account: rename it there, or give the course another slug)")
        return Result(send.item.course_id, "failed", status, code, self.transport.redact(message), attempts=attempts)

    def _reconcile(self, send: Change) -> Result | None:
        """Ours is there already (an earlier answer was lost): find it by slug and bring it up to date.
        `reconciled`, not `created`: no answer said this send made it. None when it is not found."""
        cid, found = send.item.course_id, None
        try:
            found = self._find(send.item.body.get("slug"))
            if found is None or str(found.get("title", "")).casefold() != str(send.item.body["title"]).casefold():
                return None  # not found, or not the course we sent under this slug
            return self._update(send, found["id"], {}, status="reconciled")
        except TransportError as exc:  # it is there; whatever failed now, it is not "not sent"
            (result,) = undelivered([cid], exc, after="Thought Industries holds a course with this slug")
            result.vendor_id = found["id"] if found else None
            return result

    # ------------------------------------------------------------------------------- update, lookup

    def _update(self, send: Change, vendor_id: str, previous: dict, status: str | None = None) -> Result | None:
        """PUT the fields that differ from `previous`; None when the course is gone there (create it)."""
        changed = {key: value for key, value in send.item.body.items() if previous.get(key) != value}
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

    def _find(self, slug: str | None) -> dict | None:
        """The course group with this slug (documented lookup), or None."""
        if not slug:
            return None
        response = self.transport.request("GET", f"{BY_SLUG_PATH}/{slug}", idempotent=True)
        if response.status_code != 200:
            return None
        return (response.json().get("data") or {}).get("APICourseGroupBySlug")

    def deactivate(self, states: list[State]) -> list[Result]:
        out = []
        for state in states:
            try:  # a lookup changes nothing: whatever its error, nothing was archived
                vendor_id = state.vendor_id or (self._find(_previous(state).get("slug")) or {}).get("id")
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


def _by_item(answers: list[dict], items: list[dict]) -> list[dict | None]:
    """Each item's result: by position (`index`), checked by slug; an answer whose course carries another
    slug is matched by its slug instead, so a reordered answer still lands on the right item."""
    by_index = {a.get("index", i): a for i, a in enumerate(answers)}
    by_slug = {(a.get("course") or {}).get("slug"): a for a in answers if a.get("course")}
    out = []
    for i, item in enumerate(items):
        answer = by_index.get(i)
        created_slug = (answer or {}).get("course", {}).get("slug") if answer else None
        if answer is None or (created_slug is not None and created_slug != item.get("slug")):
            answer = by_slug.get(item.get("slug"))
        out.append(answer)
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
