"""Thought Industries: create, update by id, look up by ``externalId``.

Title, slug and externalId are unique in the instance; a clash is a 422 with its own code, which
is what an idempotent re-send meets (so it creates nothing). Descriptions keep basic HTML only.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from html import escape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from .config import SANDBOX_TOKENS
from .core import SimulatedVendor, VendorError, bearer_token
from .limits import Limit, LimitStatus, SlidingWindow
from .schemas import issues, schema_validator
from .state import random_id, utc_now

COURSE_TYPES = ["course", "learning_path", "webinar", "video", "article", "scorm", "xapi"]
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
REQUIRED = ("title", "courseType")
_FIELDS: dict[str, Any] = {
    "title": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"\S"},
    "courseType": {"enum": COURSE_TYPES},
    "slug": {"type": "string", "maxLength": 255, "pattern": SLUG_PATTERN},
    "description": {"type": "string"},
    "publishedStatus": {"enum": ["draft", "published", "archived"]},
    "authors": {"type": "array", "items": {"type": "string"}},
    "tags": {"type": "array", "items": {"type": "string"}},
    "externalId": {"type": "string", "minLength": 1, "maxLength": 255},
    "customFields": {"type": "object"},
    "isFree": {"type": "boolean"},
    "source": {"type": "string"},
}
COURSE_SCHEMA: dict[str, Any] = {"type": "object", "properties": _FIELDS, "additionalProperties": False}
_validator = schema_validator(COURSE_SCHEMA)
_LABELS = {400: "Validation Error", 422: "Validation Error", 401: "Unauthorized", 404: "Not Found",
           405: "Method Not Allowed", 429: "Too Many Requests", 500: "Internal Server Error"}
_ALLOWED_TAGS = {"p", "strong", "em", "ul", "li", "a"}
_DROPPED_WITH_CONTENT = {"script", "style"}


def _rate_headers(status: LimitStatus) -> dict[str, str]:
    return {"X-RateLimit-Limit": str(status.limit), "X-RateLimit-Remaining": str(status.remaining),
            "X-RateLimit-Reset": str(math.ceil(status.reset_epoch))}


class _Sanitizer(HTMLParser):
    """Keeps p, strong, em, ul, li and a (http, https or mailto href only); drops scripts with their content."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._hidden = 0  # depth inside script/style

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROPPED_WITH_CONTENT:
            self._hidden += 1
        elif not self._hidden and tag in _ALLOWED_TAGS:
            href = dict(attrs).get("href") if tag == "a" else None
            if href and urlsplit(href).scheme in ("http", "https", "mailto"):
                self.out.append(f'<a href="{escape(href)}">')
            else:
                self.out.append(f"<{tag}>")

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROPPED_WITH_CONTENT:
            self._hidden = max(0, self._hidden - 1)
        elif not self._hidden and tag in _ALLOWED_TAGS:
            self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.out.append(escape(data, quote=False))


def sanitize(description: str) -> str:
    parser = _Sanitizer()
    parser.feed(description)
    parser.close()
    return "".join(parser.out)


def slugify(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-") or "course"


class ThoughtIndustries(SimulatedVendor):
    name = "thought_industries"
    prefix = "/thoughtindustries"
    input_invalid_code = "INVALID_FIELD_VALUE"
    rate_limited_code = "RATE_LIMIT_EXCEEDED"
    server_error_code = "INTERNAL_SERVER_ERROR"
    not_found_code = "NOT_FOUND"

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/incoming/v2/courses", self.create_course, methods=["POST"]),
            Route("/incoming/v2/courses", self.find_courses, methods=["GET"]),
            Route("/incoming/v2/courses/{course_id}", self.update_course, methods=["PUT"]),
        ]

    def build_limits(self) -> list[Limit]:
        return [SlidingWindow(self.config.thought_industries_rate_limit, self.config.thought_industries_rate_window,
                              headers=_rate_headers, message="Rate limit exceeded", code="RATE_LIMIT_EXCEEDED")]

    def error_body(self, status: int, message: Any, code: str | None) -> dict[str, Any]:
        return {"error": _LABELS.get(status, "Error"), "message": message, "code": code, "statusCode": status}

    def clear(self) -> None:
        self._tag_names: dict[str, str] = {}  # casefolded tag -> the spelling it was created with

    def _authorize(self, request: Request) -> None:
        if bearer_token(request) != SANDBOX_TOKENS["thought_industries_api_key"]:
            raise VendorError(401, "Invalid or missing API key", code="UNAUTHORIZED")

    # POST /incoming/v2/courses

    async def create_course(self, request: Request) -> JSONResponse:
        self._authorize(request)
        payload = await self.json_body(request)
        self._validate(payload, required=REQUIRED)
        now = utc_now()
        with self.store.lock:
            course = {"id": random_id(10, string.ascii_lowercase + string.digits, prefix="crs_"),
                      "description": "", "publishedStatus": "draft", "authors": [], "tags": [], "externalId": None,
                      "customFields": {}, "isFree": False, "source": None, **self._normalize(payload),
                      "createdAt": now, "updatedAt": now}
            if "slug" not in payload:
                course["slug"] = self._free_slug(slugify(course["title"]))
            course = _ordered(course)
            self._check_unique(course)
            self.store.create(course["id"], course["externalId"], course)
        return JSONResponse(course, status_code=201)

    # PUT /incoming/v2/courses/{id}: only the changed fields

    async def update_course(self, request: Request) -> JSONResponse:
        self._authorize(request)
        payload = await self.json_body(request)
        self._validate(payload, required=())
        with self.store.lock:
            record = self.store.get(request.path_params["course_id"])
            if record is None:
                raise VendorError(404, "Course not found", code="NOT_FOUND")
            course = {**record["body"], **self._normalize(payload), "updatedAt": utc_now()}
            self._check_unique(course)
            self.store.update(course["id"], course, external_key=course["externalId"])
        return JSONResponse(course)

    # GET /incoming/v2/courses?externalId=...

    async def find_courses(self, request: Request) -> JSONResponse:
        self._authorize(request)
        wanted = request.query_params.get("externalId")
        courses = [record["body"] for record in self.store.courses()
                   if wanted is None or record["body"]["externalId"] == wanted]
        return JSONResponse({"courses": courses})

    # Validation and normalisation.

    def _validate(self, payload: Any, *, required: tuple[str, ...]) -> None:
        if not isinstance(payload, dict):
            raise VendorError(400, "The request body must be a JSON object", code="INVALID_FIELD_VALUE")
        missing = [name for name in required if payload.get(name) is None]
        if missing:
            raise VendorError(400, f"Missing required field: {missing[0]}", code="MISSING_REQUIRED_FIELD")
        problems = issues(_validator, payload)
        if problems:
            raise VendorError(400, f"Invalid field value: {problems[0]}", code="INVALID_FIELD_VALUE")

    def _normalize(self, payload: dict[str, Any]) -> dict[str, Any]:
        fields = dict(payload)
        if "title" in fields:
            fields["title"] = fields["title"].strip()
        if "description" in fields:
            fields["description"] = sanitize(fields["description"])
        if "tags" in fields:
            fields["tags"] = self._tags(fields["tags"])
        if "customFields" in fields:
            known = set(self.config.thought_industries_custom_fields)
            fields["customFields"] = {k: v for k, v in fields["customFields"].items() if k in known}
        return fields

    def _tags(self, tags: list[str]) -> list[str]:
        """Trimmed, case-insensitive, auto-created: a tag keeps the spelling it was first created with."""
        result: list[str] = []
        for tag in (t.strip() for t in tags):
            if tag:
                canonical = self._tag_names.setdefault(tag.casefold(), tag)
                if canonical not in result:
                    result.append(canonical)
        return result

    def _free_slug(self, base: str) -> str:
        """A generated slug gets a numeric suffix when taken (a slug that was sent is a 422 instead)."""
        taken = {record["body"]["slug"] for record in self.store.courses()}
        slug, n = base, 2
        while slug in taken:
            slug, n = f"{base}-{n}", n + 1
        return slug

    def _check_unique(self, course: dict[str, Any]) -> None:
        others = [record["body"] for record in self.store.courses() if record["id"] != course["id"]]
        checks = (
            ("externalId", "DUPLICATE_EXTERNAL_ID", lambda c: c["externalId"]),
            ("slug", "DUPLICATE_SLUG", lambda c: c["slug"]),
            ("title", "DUPLICATE_TITLE", lambda c: c["title"].casefold()),
        )
        for field, code, key in checks:
            if key(course) is not None and any(key(other) == key(course) for other in others):
                raise VendorError(422, f"A course with this {field} already exists: {course[field]!r}", code=code)


def _ordered(course: dict[str, Any]) -> dict[str, Any]:
    """The course in the order the API answers it: id first, then the documented fields."""
    order = ["id", "title", "courseType", "slug", "description", "publishedStatus", "authors", "tags",
             "externalId", "customFields", "isFree", "source", "createdAt", "updatedAt"]
    return {name: course[name] for name in order}
