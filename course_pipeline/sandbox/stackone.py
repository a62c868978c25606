"""StackOne (unified LMS API): batch and single upsert by ``external_reference``, list with a filter.

StackOne publishes no schema for us to load, so the course item is written down here as a JSON
schema from the contract (every field optional and nullable, as in StackOne's SDK models;
unknown fields refused so a misspelt field cannot vanish silently).
"""

from __future__ import annotations

import string
from functools import cache
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from .config import SANDBOX_TOKENS
from .core import SimulatedVendor, VendorError, basic_credentials
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
        # A unified locale with an underscore (en_GB), or unmapped_value to send source_value as is.
        "value": {"type": ["string", "null"], "pattern": r"^(?:[a-z]{2,3}_[A-Z]{2}|unmapped_value)$"},
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
                   "languages": {"anyOf": [{"type": "null"}, _LANGUAGE, {"type": "array", "items": _LANGUAGE}]}},
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

_course_validator = schema_validator(COURSE_SCHEMA)


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

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/unified/lms/courses/batch", self.batch_upsert, methods=["POST"]),
            Route("/unified/lms/courses", self.upsert, methods=["PUT"]),
            Route("/unified/lms/courses", self.list_courses, methods=["GET"]),
        ]

    def build_limits(self) -> list[Limit]:
        return [SlidingWindow(self.config.stackone_rate_limit, self.config.stackone_rate_window,
                              message="Too many requests")]

    def error_body(self, status: int, message: Any, code: str | None) -> dict[str, Any]:
        return {"statusCode": status, "message": message, "timestamp": utc_now()}

    def _authorize(self, request: Request) -> None:
        if basic_credentials(request) != (SANDBOX_TOKENS["stackone_api_key"], ""):
            raise VendorError(401, "Unauthorized")
        account_id = request.headers.get("x-account-id")
        if not account_id:
            raise VendorError(400, "The x-account-id header is required")
        if account_id != SANDBOX_TOKENS["stackone_account_id"]:
            raise VendorError(404, f"Account {account_id} not found")

    # POST /unified/lms/courses/batch: 202 with one list of messages per item.

    async def batch_upsert(self, request: Request) -> JSONResponse:
        self._authorize(request)
        payload = await self.json_body(request)
        problems = issues(_batch_validator(self.config.stackone_max_batch), payload)
        if problems:
            raise VendorError(400, "; ".join(map(str, problems)))
        errors = []
        for item in payload["items"]:
            item_errors = [str(problem) for problem in issues(_course_validator, item)]
            if not item_errors:
                self._upsert(item)
            errors.append(item_errors)
        return JSONResponse({"statusCode": 202, "message": "Batch operation accepted", "timestamp": utc_now(),
                             "errors": errors}, status_code=202)

    # PUT /unified/lms/courses: one item, upserted by its external_reference.

    async def upsert(self, request: Request) -> JSONResponse:
        self._authorize(request)
        item = await self.json_body(request)
        problems = issues(_course_validator, item)
        if not problems and not (isinstance(item, dict) and item.get("external_reference")):
            problems = ["external_reference: required to upsert a course"]
        if problems:
            raise VendorError(400, "; ".join(map(str, problems)))
        record = self._upsert(item)
        data = {"id": record["id"], "remote_id": record["remote_id"], "external_reference": record["external_key"]}
        return JSONResponse({"statusCode": 201, "message": "Record upserted successfully", "timestamp": utc_now(),
                             "data": data}, status_code=201)

    def _upsert(self, item: dict[str, Any]) -> dict[str, Any]:
        key = item.get("external_reference")
        with self.store.lock:
            existing = self.store.find(key) if key else None
            if existing is not None:
                return self.store.update(existing["id"], {**existing["body"], **item})
            return self.store.create(random_id(22), key, item, remote_id=random_id(10, string.digits))

    # GET /unified/lms/courses?filter[external_reference]=...

    async def list_courses(self, request: Request) -> JSONResponse:
        self._authorize(request)
        wanted = request.query_params.get("filter[external_reference]")
        data = [
            {"id": record["id"], "remote_id": record["remote_id"], **record["body"],
             "external_reference": record["external_key"]}
            for record in self.store.courses()
            if wanted is None or record["external_key"] == wanted
        ]
        return JSONResponse({"data": data, "next": None})
