"""Kombo (unified LMS API): asynchronous bulk upsert by ``origin_id``, task polling, list, deactivate.

A bulk request becomes a task that stays PENDING for ``kombo_pending_seconds``; its items are
applied when it completes. Completion is settled lazily, on the next Kombo request or state read
after the due time, so no timers outlive a reset. Re-sending the same body for the same
integration returns the existing task (Kombo's idempotency), and so creates nothing new.

Vendor rules: Kombo. One row per rule of this sandbox; "seed" is ../shared/vendor-contracts.md §2, "spec"
is Kombo's OpenAPI file in vendor_schemas/ (kombo-lms-courses.openapi.json). Tests are in
tests/sandbox/test_kombo.py (over HTTP) unless another file is named; the client's side of a rule is
tested in tests/sync/test_sync_kombo.py and tests/vendors/.

| rule | Kombo's behaviour | source | test |
|---|---|---|---|
| auth | Bearer API key, else 401 PLATFORM.AUTHENTICATION_INVALID; X-Integration-Id required (400), an unknown one 404 PLATFORM.INTEGRATION_NOT_FOUND | seed; https://docs.kombo.dev/lms/v1/post-courses-bulk | test_bad_auth_or_integration_is_refused |
| integrations | one API key, many integrations, each with its own courses, tasks and limits; known: the default, those in `SandboxConfig.accounts`, any `sandbox:<name>` | seed (X-Integration-Id names the integration; the limit is per integration) | tests/sandbox/test_accounts.py |
| bulk body | validated against PostLmsCoursesBulkRequestBody (required fields, EXTERNAL, `ll`/`ll-CC`, duration > 0, nullable fields), else 400 PLATFORM.INPUT_INVALID; no stricter than the spec | spec | test_each_required_field_left_out_is_400_input_invalid, test_wrong_enum_pattern_or_type_is_400, test_nullable_fields_accept_null |
| batch size | at most 100 items a request, else 400 | seed (a **default**: Kombo documents no number) | test_more_than_100_items_is_400 |
| async task | 200 {task_id, warnings}; the task is PENDING, then COMPLETED with one result per item | https://docs.kombo.dev/lms/v1/get-courses-bulk-task-id, https://docs.kombo.dev/lms/guides/async-endpoints | test_seed_example_moves_from_pending_to_completed |
| item failures | a COMPLETED task can hold FAILED items; the LMS's refusals (empty title, a course_url that is not http(s), an origin_id twice in one request) fail alone with REMOTE.INPUT_INVALID | async guide (per-item outcomes); the three checks are the sandbox's defaults | test_invalid_items_fail_alone_with_remote_input_invalid |
| identical body | the same body for the same integration, at any time, answers the existing task (PENDING, COMPLETED or FAILED) and applies nothing; bodies are compared as JSON values, so key order and spacing do not make another body; the answer carries a warning | seed (not in Kombo's docs; the warning is the sandbox's own) | test_same_body_for_same_integration_returns_the_same_task, test_a_body_is_the_same_whatever_its_key_order_and_spacing; client: test_a_lost_answer_is_repeated_with_the_same_body_and_its_warning_is_shown |
| upsert | by origin_id: an existing course is updated (and ACTIVE again if it was deactivated), a new one created | spec ("stable identifier for matching existing courses"), post-courses-bulk ("create or update"); reactivation by upsert is not documented: the sandbox's reading (issue 12) | test_upsert_by_origin_id_updates_the_course, test_an_upsert_makes_a_deactivated_course_active_again_but_its_old_body_does_not; client: test_a_course_removed_and_re_added_ends_active, test_content_changed_back_to_an_earlier_version_lands |
| task FAILED | fault `task_failed_rate`: a new task ends FAILED as a whole with a task-level error (INTEGRATION.AUTHENTICATION_INVALID), no item processed; its body keeps answering it | https://docs.kombo.dev/lms/guides/async-endpoints ("the task could not run at all ... no items were processed") | test_a_task_failed_as_a_whole_processes_no_item_and_its_body_keeps_its_task, test_task_failures_are_drawn_per_task_from_the_seed; client: test_a_task_failed_as_a_whole_fails_its_items_and_the_next_run_processes_them |
| LMS cannot update | `kombo_updates_supported=False`: an item for an existing course fails with LMS.COURSE_UPDATE_NOT_SUPPORTED; creates still work | seed (codes); the code is in the spec's error enum, when Kombo sends it is not documented | test_an_lms_that_cannot_update_fails_updates_with_course_update_not_supported; client: test_an_update_the_lms_cannot_make_is_rejected_and_not_sent_again |
| task status | GET /lms/courses/bulk/{id}: an unknown id (or another integration's task) is 404 | sandbox (Kombo's docs say nothing) | test_task_of_unknown_id_is_404 |
| list | GET /lms/courses: cursor paging, page_size 1-250, updated_after, include_deleted true/false, else 400 | spec; seed | test_list_courses_pages_with_a_cursor, test_list_filters_by_updated_after, test_list_refuses_bad_parameters |
| deactivate | POST /lms/courses/{id}/deactivate with {}, by Kombo id or `remote:<id>`; the course is INACTIVE; unknown 404 | https://docs.kombo.dev/lms/v1/post-courses-course-id-deactivate | test_deactivate_by_id_or_remote_id |
| concurrency | at most 30 actions (POST requests) in flight per integration; past it 429 PLATFORM.CONCURRENCY_LIMIT_EXCEEDED with Retry-After; every action's answer carries Concurrency-Limit and Concurrency-Remaining; model reads and task polls are not limited and carry neither | https://docs.kombo.dev/lms/guides/concurrency-limiting, https://docs.kombo.dev/lms/important-changes (2026-03-20: 30, enforced); Retry-After: seed **default** | test_31st_action_in_flight_is_429_concurrency_limit, test_model_reads_and_task_polls_are_not_concurrency_limited, test_every_action_answer_carries_both_concurrency_headers_and_slots_are_given_back; client: tests/vendors/test_transport.py::test_kombo_concurrency_headers_set_the_pace |
| request rate | off by default (no number documented for it); `kombo_rate_limit` turns on a window with 429 PLATFORM.RATE_LIMIT_EXCEEDED | concurrency-limiting guide (rate limiting is a separate limit) | test_optional_request_rate_limit |
| warnings | answers of bulk and deactivate carry `warnings[]` ("we recommend logging them") | spec (PostLmsCoursesBulkPositiveResponse) | with the identical-body rule |
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import random
import re
import string
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from .config import SANDBOX_TOKENS, FaultConfig, SandboxConfig
from .core import SimulatedVendor, VendorError, bearer_token, scope_header
from .limits import ConcurrencyLimit, Limit, LimitStatus, Refusal, SlidingWindow
from .schemas import issues, openapi_validator
from .state import random_id, utc_now

SCHEMA_FILE = "kombo-lms-courses.openapi.json"
_BASE58 = "".join(c for c in string.ascii_letters + string.digits if c not in "0OIl")
# Pattern of the `updated_after` parameter in Kombo's spec.
_UPDATED_AFTER = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?)?Z?$")
_TITLES = {
    "PLATFORM.AUTHENTICATION_INVALID": "The provided API key is invalid.",
    "PLATFORM.INPUT_INVALID": "The input is invalid.",
    "PLATFORM.INTEGRATION_NOT_FOUND": "The integration could not be found.",
    "PLATFORM.RATE_LIMIT_EXCEEDED": "Rate limit exceeded.",
    "PLATFORM.CONCURRENCY_LIMIT_EXCEEDED": "Concurrency limit exceeded.",
    "PLATFORM.UNKNOWN_ERROR": "An unknown error occurred.",
    "REMOTE.INPUT_INVALID": "The remote system rejected the input.",
    "INTEGRATION.AUTHENTICATION_INVALID": "The credentials of the connected tool are invalid.",
    "LMS.COURSE_UPDATE_NOT_SUPPORTED": "The LMS does not support updating courses.",
}


def _integration_of(scope: dict[str, Any]) -> str:
    return scope_header(scope, b"x-integration-id") or ""


def _concurrency_headers(status: LimitStatus) -> dict[str, str]:
    return {"Concurrency-Limit": str(status.limit), "Concurrency-Remaining": str(status.remaining)}


def _error(code: str | None, message: str) -> dict[str, Any]:
    return {"code": code, "title": _TITLES.get(code or ""), "message": message, "log_url": None}


def _is_http_url(value: Any) -> bool:
    parts = urlsplit(value) if isinstance(value, str) else None
    return bool(parts and parts.scheme in ("http", "https") and parts.netloc)


def _remote_problem(course: dict[str, Any]) -> str | None:
    """What the LMS behind Kombo rejects although the schema allows it (sandbox default rules)."""
    if not course["title"].strip():
        return "title must not be empty"
    if not _is_http_url(course["course_url"]):
        return "course_url must be an absolute http(s) URL"
    if course.get("thumbnail_url") is not None and not _is_http_url(course["thumbnail_url"]):
        return "thumbnail_url must be an absolute http(s) URL"
    return None


@dataclass
class _Task:
    task_id: str
    integration_id: str
    items: list[dict[str, Any]]
    created_at: str
    due: float  # when it completes (config.clock)
    failure: dict[str, Any] | None = None  # set: the task ends FAILED with this error, no item processed
    results: list[dict[str, Any]] | None = None
    completed_at: str | None = None

    def view(self) -> dict[str, Any]:
        if self.completed_at is None:
            return {"task_id": self.task_id, "created_at": self.created_at, "status": "PENDING", "completed_at": None}
        if self.failure is not None:
            return {"task_id": self.task_id, "created_at": self.created_at, "status": "FAILED",
                    "error": self.failure, "completed_at": self.completed_at}
        return {"task_id": self.task_id, "created_at": self.created_at, "status": "COMPLETED",
                "data": self.results, "completed_at": self.completed_at}


class _ActionConcurrency(ConcurrencyLimit):
    """Kombo limits only actions (POST requests that reach the connected tool); model reads and task polls
    are not counted, and only action answers carry the Concurrency-* headers."""

    def check(self, scope: dict[str, Any], now: float) -> Refusal | None:
        return super().check(scope, now) if _is_action(scope) else None

    def commit(self, scope: dict[str, Any], now: float) -> None:
        if _is_action(scope):
            super().commit(scope, now)

    def finish(self, scope: dict[str, Any]) -> None:
        if _is_action(scope):
            super().finish(scope)

    def headers(self, scope: dict[str, Any], now: float) -> dict[str, str]:
        return super().headers(scope, now) if _is_action(scope) else {}


def _is_action(scope: dict[str, Any]) -> bool:
    return scope.get("method") == "POST"


class Kombo(SimulatedVendor):
    name = "kombo"
    prefix = "/kombo/v1"
    default_account = SANDBOX_TOKENS["kombo_integration_id"]
    input_invalid_code = "PLATFORM.INPUT_INVALID"
    rate_limited_code = "PLATFORM.RATE_LIMIT_EXCEEDED"
    server_error_code = "PLATFORM.UNKNOWN_ERROR"

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/lms/courses/bulk", self.bulk_upsert, methods=["POST"]),
            Route("/lms/courses/bulk/{task_id}", self.task_status, methods=["GET"]),
            Route("/lms/courses", self.list_courses, methods=["GET"]),
            Route("/lms/courses/{course_id}/deactivate", self.deactivate, methods=["POST"]),
        ]

    @staticmethod
    def account_of(scope: dict[str, Any]) -> str | None:
        return _integration_of(scope) or None

    @classmethod
    def is_known(cls, account: str, config: SandboxConfig) -> bool:
        # Kombo's ids are "<tool>:<id>" (the default is "sandbox:..."): any id of the sandbox's own tool is an
        # integration, so a client can add one without restarting the sandbox, while an id of a real tool
        # (e.g. personio:...) keeps the documented 404 PLATFORM.INTEGRATION_NOT_FOUND (seed).
        return account.startswith("sandbox:") or super().is_known(account, config)

    def build_limits(self) -> list[Limit]:
        limits: list[Limit] = [
            _ActionConcurrency(self.settings["concurrency_limit"], _integration_of, headers=_concurrency_headers,
                               message="Too many concurrent requests for this integration.",
                               code="PLATFORM.CONCURRENCY_LIMIT_EXCEEDED")
        ]
        if self.settings["rate_limit"] is not None:
            limits.append(SlidingWindow(self.settings["rate_limit"], self.settings["rate_window"],
                                        message="Rate limit exceeded.", code="PLATFORM.RATE_LIMIT_EXCEEDED"))
        return limits

    def error_body(self, status: int, message: Any, code: str | None) -> dict[str, Any]:
        return {"status": "error", "error": _error(code, str(message))}

    def clear(self) -> None:
        self._tasks: dict[str, _Task] = {}
        self._task_by_body: dict[tuple[str, str], str] = {}
        self._draws_for: FaultConfig | None = None
        self._task_draws = random.Random()

    def _task_fails(self) -> bool:
        """Draw whether a new task fails as a whole, from a generator of its own (seeded like the other
        faults, re-seeded when they are set) so the per-request draws of every vendor stay as they were."""
        config = self.faults.config
        if config is not self._draws_for:
            self._draws_for, self._task_draws = config, random.Random(config.seed)
        return self._task_draws.random() < config.task_failed_rate

    def snapshot(self) -> dict[str, Any]:
        with self.store.lock:
            self._settle()
            pending = sum(task.completed_at is None for task in self._tasks.values())
            return {**super().snapshot(), "tasks": {"total": len(self._tasks), "pending": pending}}

    def _authorize(self, request: Request) -> str:
        if bearer_token(request) != SANDBOX_TOKENS["kombo_api_key"]:
            raise VendorError(401, "The API key is missing or invalid.", code="PLATFORM.AUTHENTICATION_INVALID")
        integration_id = request.headers.get("x-integration-id")
        if not integration_id:
            raise VendorError(400, "The X-Integration-Id header is required.", code="PLATFORM.INPUT_INVALID")
        if integration_id != self.account:  # an unknown one reaches the stranger, who owns none (accounts.py)
            raise VendorError(404, f"No integration with the ID {integration_id!r} exists.",
                              code="PLATFORM.INTEGRATION_NOT_FOUND")
        return integration_id

    # POST /lms/courses/bulk

    async def bulk_upsert(self, request: Request) -> JSONResponse:
        integration_id = self._authorize(request)
        payload = await self.json_body(request)
        problems = issues(openapi_validator(SCHEMA_FILE, "PostLmsCoursesBulkRequestBody"), payload)
        if problems:
            raise VendorError(400, "; ".join(map(str, problems)), code="PLATFORM.INPUT_INVALID")
        if len(payload["items"]) > self.config.kombo_max_batch:
            raise VendorError(400, f"items: at most {self.config.kombo_max_batch} items per request",
                              code="PLATFORM.INPUT_INVALID")
        fingerprint = hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
        warnings = []
        with self.store.lock:
            self._settle()
            task_id = self._task_by_body.get((integration_id, fingerprint))
            if task_id is None:
                task_id = random_id(24, _BASE58)
                failure = (_error("INTEGRATION.AUTHENTICATION_INVALID", "The credentials for the connected LMS are "
                                  "no longer valid; no item was processed.") if self._task_fails() else None)
                self._tasks[task_id] = _Task(task_id, integration_id, payload["items"], utc_now(),
                                             self.config.clock() + self.config.kombo_pending_seconds, failure)
                self._task_by_body[(integration_id, fingerprint)] = task_id
            else:
                warnings.append({"message": "An identical request was received before; returning its task."})
        return JSONResponse({"status": "success", "data": {"task_id": task_id}, "warnings": warnings})

    def _settle(self) -> None:
        """Complete every task whose pending time is over, in the order they were created."""
        now = self.config.clock()
        with self.store.lock:
            for task in self._tasks.values():
                if task.completed_at is None and task.due <= now:
                    if task.failure is None:
                        seen: set[str] = set()
                        task.results = [self._apply(item, seen) for item in task.items]
                    task.completed_at = utc_now()

    def _apply(self, item: dict[str, Any], seen: set[str]) -> dict[str, Any]:
        origin_id, course = item["origin_id"], item["course"]
        problem = _remote_problem(course)
        if problem is None and origin_id in seen:
            problem = "origin_id appears more than once in this request"
        seen.add(origin_id)
        if problem:
            return {"origin_id": origin_id, "status": "FAILED", "error": _error("REMOTE.INPUT_INVALID", problem)}
        existing = self.store.find(origin_id)
        if existing is not None and not self.config.kombo_updates_supported:
            return {"origin_id": origin_id, "status": "FAILED", "error": _error(
                "LMS.COURSE_UPDATE_NOT_SUPPORTED", "The connected LMS does not support updating an existing course.")}
        if existing is not None:
            # An upsert sends the whole course; it is active again even if it was deactivated.
            record = self.store.update(existing["id"], course, active=True)
        else:
            record = self.store.create(random_id(24, _BASE58), origin_id, course,
                                       remote_id=random_id(8, "0123456789"), revision_id=random_id(24, _BASE58),
                                       active=True)
        return {"origin_id": origin_id, "status": "SUCCEEDED", "data": {"id": record["id"]}}

    # GET /lms/courses/bulk/{task_id}

    async def task_status(self, request: Request) -> JSONResponse:
        integration_id = self._authorize(request)
        with self.store.lock:
            self._settle()
            task = self._tasks.get(request.path_params["task_id"])
            if task is None or task.integration_id != integration_id:
                raise VendorError(404, "No task with this ID exists.")
            return JSONResponse({"status": "success", "data": task.view()})

    # GET /lms/courses

    async def list_courses(self, request: Request) -> JSONResponse:
        self._authorize(request)
        query = request.query_params
        page_size = _page_size(query.get("page_size", "100"))
        offset = _cursor_offset(query.get("cursor"))
        for flag in ("include_deleted", "ignore_unsupported_filters"):
            if query.get(flag, "false") not in ("true", "false"):
                raise VendorError(400, f"{flag} must be 'true' or 'false'", code="PLATFORM.INPUT_INVALID")
        updated_after = _timestamp(query.get("updated_after"))
        ids = set(query["ids"].split(",")) if query.get("ids") else None
        remote_ids = set(query["remote_ids"].split(",")) if query.get("remote_ids") else None
        with self.store.lock:
            self._settle()
            courses = [
                course for course in self.store.courses()
                if (ids is None or course["id"] in ids)
                and (remote_ids is None or course["remote_id"] in remote_ids)
                and (updated_after is None or _parse(course["updated_at"]) > updated_after)
            ]
            page = [_course_view(course) for course in courses[offset:offset + page_size]]
        more = offset + page_size < len(courses)
        next_cursor = _encode_cursor(offset + page_size) if more else None
        return JSONResponse({"status": "success", "data": {"next": next_cursor, "results": page}})

    # POST /lms/courses/{course_id}/deactivate

    async def deactivate(self, request: Request) -> JSONResponse:
        self._authorize(request)
        body = await self.json_body(request, allow_empty=True)
        problems = issues(openapi_validator(SCHEMA_FILE, "PostLmsCoursesCourseIdDeactivateRequestBody"), body)
        if problems:
            raise VendorError(400, "; ".join(map(str, problems)), code="PLATFORM.INPUT_INVALID")
        wanted = request.path_params["course_id"]
        with self.store.lock:
            self._settle()
            if wanted.startswith("remote:"):
                remote_id = wanted.removeprefix("remote:")
                record = next((c for c in self.store.courses() if c["remote_id"] == remote_id), None)
            else:
                record = self.store.get(wanted)
            if record is None:
                raise VendorError(404, f"No course with the ID {wanted!r} exists.")
            record = self.store.update(record["id"], active=False)
            return JSONResponse({"status": "success", "data": _course_view(record), "warnings": []})


def _course_view(record: dict[str, Any]) -> dict[str, Any]:
    """A stored course in the shape of Kombo's `GET /lms/courses` results."""
    course = record["body"]
    common = {"remote_created_at": record["created_at"], "remote_deleted_at": None,
              "changed_at": record["updated_at"], "remote_data": None, "custom_fields": None,
              "integration_fields": []}
    revision = {"id": record["revision_id"], "remote_id": f"{record['remote_id']}-1", "course_id": record["id"],
                "title": course["title"], "description": course.get("description"),
                "remote_url": course["course_url"], "status": "ACTIVE" if record["active"] else "INACTIVE",
                **common, "skill_assignments": []}
    return {"id": record["id"], "remote_id": record["remote_id"], "provider_id": None,
            "origin_id": record["external_key"], **common, "provider": None, "revisions": [revision]}


def _page_size(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= 250:
        raise VendorError(400, "page_size must be an integer from 1 to 250", code="PLATFORM.INPUT_INVALID")
    return int(raw)


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _cursor_offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(cursor.encode()))["offset"]
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise VendorError(400, "cursor is invalid", code="PLATFORM.INPUT_INVALID") from exc
    if not isinstance(offset, int) or offset < 0:
        raise VendorError(400, "cursor is invalid", code="PLATFORM.INPUT_INVALID")
    return offset


def _timestamp(raw: str | None) -> datetime | None:
    if raw is None:
        return None
    if not _UPDATED_AFTER.match(raw):
        raise VendorError(400, "updated_after must look like YYYY-MM-DDTHH:mm:ss.sssZ", code="PLATFORM.INPUT_INVALID")
    return _parse(raw)


def _parse(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.removesuffix("Z"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
