"""StackOne (unified LMS API): batch and single upsert by ``external_reference``, list with a filter.

StackOne publishes no schema for us to load, so the course item is written down here as a JSON
schema from the contract (every field optional and nullable, as in StackOne's SDK models;
unknown fields refused so a misspelt field cannot vanish silently).

The rules, each with its test in tests/sandbox/test_stackone.py (seed: ../shared/vendor-contracts.md §3;
API: https://docs.stackone.com/lms/api-reference/courses/batch-upsert-course; SDK:
StackOneHQ/stackone-client-typescript, src/sdk/models/shared/):

| rule | StackOne's behaviour | source |
|---|---|---|
| `POST /unified/lms/courses/batch`: 202, `errors[i]` per item | "Batch operation accepted"; errors[i] lists item i's messages, `[]` when it passed | seed; API page; SDK `BatchResultApiModel` |
| 202 is accepted, not processed (`stackone_processing_seconds`) | items land after the answer; a list right after may not show them yet | API page ("accepted"); seed |
| `languages[].value` one of the 410 listed locales or `unmapped_value` | anything else refused in errors[i] | SDK `LanguageEnumValue` (vendors/stackone/locales.py) |
| an item without `external_reference` or `title` | errors[i] `Missing field: <name>`, nothing stored (no merge of a partial item) | SDK `BatchResultApiModel` example `[["Missing field: name"], [], []]` |
| `unified_custom_fields` keys outside the project's (`stackone_custom_fields`) | refused in errors[i]; any key when the sandbox is not told the project's fields | https://docs.stackone.com/guides/field-mapping (fields are created by a project admin) |
| `POST /unified/lms/content/batch`: the same answer, content items | the endpoint current SDKs keep (`lmsBatchUpsertContent`) | SDK; https://docs.stackone.com/lms/api-reference/content/batch-upsert-content |
| the course batch retired (`stackone_course_batch_status` 404 / 410) | the error body, no item processed | SDKs dropped `lmsBatchUpsertCourse` (July 2025, issue 12) |
| `GET /unified/lms/courses?filter[external_reference]=` | `{data: [...], next}` | seed; SDK `LmsListCoursesQueryParamFilter.externalReference` |
| `PUT /unified/lms/courses`: one item, 201 | `{statusCode, message, timestamp, data: {id, remote_id, external_reference}}` | seed |
| Basic auth (key, empty password), `x-account-id` | 401; 400 without the header; 404 for an unknown account | seed |
| accounts | one key, many accounts, each with its own courses and rate window; known: the default, those in `SandboxConfig.accounts`, any `sandbox-<name>` | seed (x-account-id names the linked account; what the 10 / s counts it does not say: per account is a **default**) |
| 10 requests / s | 429 with `Retry-After` | seed |
| malformed batch (no items, > 100, not JSON) | 400 `{statusCode, message, timestamp}` | seed |
"""

from __future__ import annotations

import string
from functools import cache
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from ..vendors.stackone.locales import LOCALES, UNMAPPED
from .config import SANDBOX_TOKENS, SandboxConfig
from .core import SimulatedVendor, VendorError, basic_credentials, scope_header
from .limits import Limit, SlidingWindow
from .schemas import issues, schema_validator
from .state import random_id, utc_now

_TEXT = {"type": ["string", "null"]}
_URL = {"type": ["string", "null"], "pattern": r"^https?://[^\s/]+\S*$"}
# ISO 8601 duration with at least one component, e.g. PT1H30M or P1DT2H.
_DURATION = r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$"
_LANGUAGE = {
    "type": "object",
    "properties": {
        # One of StackOne's listed locales, or unmapped_value to send source_value as is.
        "value": {"enum": [*sorted(LOCALES), UNMAPPED, None]},
        "source_value": {},
    },
    "additionalProperties": False,
}
# Localizations: the docs' own examples write these as en-GB, so only the form is checked there.
_LOCALIZED_LANGUAGE = {
    "type": "object",
    "properties": {
        "value": {"type": ["string", "null"], "pattern": r"^(?:[a-z]{2,3}[_-][A-Z]{2}|unmapped_value)$"},
        "source_value": {},
    },
    "additionalProperties": False,
}
_LEVEL = {
    "type": ["object", "null"],
    "properties": {"value": {"enum": ["primary", "secondary", "tertiary", "unmapped_value", None]}, "source_value": {}},
    "additionalProperties": False,
}
_TAXON = {  # categories[] and skills[]
    "type": "object",
    "properties": {"id": _TEXT, "name": _TEXT, "hierarchy": _LEVEL, "level": _LEVEL,
                   "language": {**_LANGUAGE, "type": ["object", "null"]},
                   "unified_custom_fields": {"type": ["object", "null"]}},
    "additionalProperties": False,
}
_CONTENT = {
    "type": "object",
    "properties": {"external_reference": _TEXT, "title": _TEXT, "description": _TEXT, "content_url": _URL,
                   "mobile_launch_content_url": _URL, "order": {"type": ["number", "null"]}},
    "additionalProperties": False,
}
_LOCALIZATION = {
    "type": "object",
    "properties": {"title": _TEXT, "description": _TEXT,
                   "languages": {"anyOf": [{"type": "null"}, _LOCALIZED_LANGUAGE,
                                           {"type": "array", "items": _LOCALIZED_LANGUAGE}]}},
    "additionalProperties": False,
}


def _list_of(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": ["array", "null"], "items": item}


COURSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "external_reference": {"type": ["string", "null"], "minLength": 1},
        "title": _TEXT,
        "description": _TEXT,
        "languages": _list_of(_LANGUAGE),
        "cover_url": _URL,
        "url": _URL,
        "active": {"type": ["boolean", "null"]},
        "duration": {"type": ["string", "null"], "pattern": _DURATION},
        "categories": _list_of(_TAXON),
        "skills": _list_of(_TAXON),
        "content": _list_of(_CONTENT),
        "content_ids": _list_of({"type": "string"}),
        "localizations": _list_of(_LOCALIZATION),
        "unified_custom_fields": {"type": ["object", "null"]},
        "created_at": _TEXT,
        "updated_at": _TEXT,
    },
    "additionalProperties": False,
}

# A content item (POST /unified/lms/content/batch), as its API page lists it: a course's fields less url,
# content[] and content_ids, plus its own.
CONTENT_SCHEMA: dict[str, Any] = {
    **COURSE_SCHEMA,
    "properties": {
        **{k: v for k, v in COURSE_SCHEMA["properties"].items() if k not in ("url", "content", "content_ids")},
        "short_description": _TEXT, "content_url": _URL, "mobile_launch_content_url": _URL,
        "content_type": {"type": ["object", "null"], "properties": {"value": {}, "source_value": {}},
                         "additionalProperties": False},
        "order": {"type": ["number", "null"]}, "tags": _list_of({"type": "string"}),
        "additional_data": _list_of({"type": "object"}),
    },
}

_course_validator = schema_validator(COURSE_SCHEMA)
_content_validator = schema_validator(CONTENT_SCHEMA)
# What an item must carry to be stored: the upsert key and a name (SDK example: "Missing field: name").
_REQUIRED = ("external_reference", "title")


@cache
def _batch_validator(max_items: int) -> Any:
    return schema_validator({
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "minItems": 1, "maxItems": max_items}},
        "additionalProperties": False,
    })


class StackOne(SimulatedVendor):
    name = "stackone"
    prefix = "/stackone"
    default_account = SANDBOX_TOKENS["stackone_account_id"]

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/unified/lms/courses/batch", self.batch_upsert, methods=["POST"]),
            Route("/unified/lms/content/batch", self.content_batch_upsert, methods=["POST"]),
            Route("/unified/lms/courses", self.upsert, methods=["PUT"]),
            Route("/unified/lms/courses", self.list_courses, methods=["GET"]),
        ]

    @staticmethod
    def account_of(scope: dict[str, Any]) -> str | None:
        return scope_header(scope, b"x-account-id") or None

    @classmethod
    def is_known(cls, account: str, config: SandboxConfig) -> bool:
        # Like the default (sandbox-stackone-account-1), any "sandbox-..." id is a linked account of the
        # sandbox's project, so a client can add one without a restart; any other id keeps the seed's 404.
        return account.startswith("sandbox-") or super().is_known(account, config)

    def build_limits(self) -> list[Limit]:
        return [SlidingWindow(self.settings["rate_limit"], self.settings["rate_window"],
                              message="Too many requests")]

    def error_body(self, status: int, message: Any, code: str | None) -> dict[str, Any]:
        return {"statusCode": status, "message": message, "timestamp": utc_now()}

    def _authorize(self, request: Request) -> None:
        if basic_credentials(request) != (SANDBOX_TOKENS["stackone_api_key"], ""):
            raise VendorError(401, "Unauthorized")
        account_id = request.headers.get("x-account-id")
        if not account_id:
            raise VendorError(400, "The x-account-id header is required")
        if account_id != self.account:  # an unknown one reaches the stranger, who owns none (accounts.py)
            raise VendorError(404, f"Account {account_id} not found")

    def clear(self) -> None:
        self._queue: list[tuple[float, dict[str, Any]]] = []  # (due, item): accepted, not yet processed

    # POST /unified/lms/courses/batch and /unified/lms/content/batch: 202 with one list of messages per item.

    async def batch_upsert(self, request: Request) -> JSONResponse:
        self._authorize(request)
        if self.config.stackone_course_batch_status is not None:
            status = self.config.stackone_course_batch_status
            raise VendorError(status, "Cannot POST /unified/lms/courses/batch" if status == 404 else "Gone")
        return await self._batch(request, _course_validator, "course")

    async def content_batch_upsert(self, request: Request) -> JSONResponse:
        self._authorize(request)
        return await self._batch(request, _content_validator, "content")

    async def _batch(self, request: Request, validator: Any, kind: str) -> JSONResponse:
        payload = await self.json_body(request)
        problems = issues(_batch_validator(self.config.stackone_max_batch), payload)
        if problems:
            raise VendorError(400, "; ".join(map(str, problems)))
        self._process_due()
        errors = []
        due = self.config.clock() + self.config.stackone_processing_seconds
        for item in payload["items"]:
            item_errors = [str(problem) for problem in issues(validator, item)] or self._item_errors(item)
            if not item_errors:
                self._accept(due, {**item, "_kind": kind})
            errors.append(item_errors)
        return JSONResponse({"statusCode": 202, "message": "Batch operation accepted", "timestamp": utc_now(),
                             "errors": errors}, status_code=202)

    def _item_errors(self, item: dict[str, Any]) -> list[str]:
        errors = [f"Missing field: {name}" for name in _REQUIRED if not item.get(name)]
        known = self.config.stackone_custom_fields
        if known is not None:
            errors += [f"Unknown custom field: {key} (not a custom unified field of this project)"
                       for key in (item.get("unified_custom_fields") or {}) if key not in known]
        return errors

    def _accept(self, due: float, item: dict[str, Any]) -> None:
        with self.store.lock:
            self._queue.append((due, item))
        self._process_due()

    def _process_due(self) -> None:
        """Apply the accepted items whose processing time has come (read on every request)."""
        now = self.config.clock()
        with self.store.lock:
            ready = [item for due, item in self._queue if due <= now]
            self._queue = [(due, item) for due, item in self._queue if due > now]
            for item in ready:
                kind = item.pop("_kind")
                self._upsert(item, **({"kind": kind} if kind != "course" else {}))

    # PUT /unified/lms/courses: one item, upserted by its external_reference.

    async def upsert(self, request: Request) -> JSONResponse:
        self._authorize(request)
        item = await self.json_body(request)
        problems = issues(_course_validator, item)
        if not problems and not (isinstance(item, dict) and item.get("external_reference")):
            problems = ["external_reference: required to upsert a course"]
        problems = problems or self._item_errors(item)
        if problems:
            raise VendorError(400, "; ".join(map(str, problems)))
        record = self._upsert(item)
        data = {"id": record["id"], "remote_id": record["remote_id"], "external_reference": record["external_key"]}
        return JSONResponse({"statusCode": 201, "message": "Record upserted successfully", "timestamp": utc_now(),
                             "data": data}, status_code=201)

    def _upsert(self, item: dict[str, Any], **extra: Any) -> dict[str, Any]:
        key = item.get("external_reference")
        with self.store.lock:
            existing = self.store.find(key) if key else None
            if existing is not None:
                return self.store.update(existing["id"], {**existing["body"], **item})
            return self.store.create(random_id(22), key, item, remote_id=random_id(10, string.digits), **extra)

    # GET /unified/lms/courses?filter[external_reference]=...

    async def list_courses(self, request: Request) -> JSONResponse:
        self._authorize(request)
        self._process_due()
        wanted = request.query_params.get("filter[external_reference]")
        data = [
            {"id": record["id"], "remote_id": record["remote_id"], **record["body"],
             "external_reference": record["external_key"]}
            for record in self.store.courses()
            if "kind" not in record and (wanted is None or record["external_key"] == wanted)
        ]
        return JSONResponse({"data": data, "next": None})
