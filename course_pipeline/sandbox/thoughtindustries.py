"""Thought Industries: both dialects of course creation, update by id, lookup by slug.

Two ways in, as the vendor's pages describe them: the seed's one course a request (`POST
/incoming/v2/courses`, `courseType`), and the documented bulk create (`POST
/incoming/v2/content/course/create`, a `courseAttributes` array of up to 100 courses, each with a
`kind`). The docs contradict each other on field names (`kind` / `format` / `courseType`) and paths;
the sandbox takes what it can cite, below, and nothing it cannot.

Vendor rules: Thought Industries (one row per rule the sandbox enforces; each has a test in
tests/sandbox/test_thought_industries.py, and the client's side in tests/vendors or tests/sync).

| rule | vendor behaviour | source |
|---|---|---|
| single create | `POST /incoming/v2/courses`, `title` + `courseType` required, 201 with the whole course (`id`, `createdAt`, `updatedAt`) | vendor-contracts.md §4; developer.thoughtindustries.com/docs/tutorials/creating-courses/ |
| bulk create | `POST /incoming/v2/content/course/create`, `courseAttributes[]` of 1 to 100, each `title` + `kind` (courseGroup, microCourse, article, video, shareableContentObject, xApiObject) | developer.thoughtindustries.com/api-tutorials/create-courses/rate-limits ("up to 100 courses in a single request using the courseAttributes array"); .../create-courses/field-reference (CourseGroupKind) |
| bulk answer | 200 `{results: [{index, status: created, course} or {index, status: failed, error: {code, message, statusCode}}]}`, one per course in request order; a bad course fails alone | NOT documented: the docs give no response body for the bulk create; modelled on the per-record results of the documented `POST /incoming/v2/users/bulk` (developer.thoughtindustries.com/docs/tutorials/bulk-operations/) |
| required fields | 400 `MISSING_REQUIRED_FIELD` | vendor-contracts.md §4 |
| field values | 400 `INVALID_FIELD_VALUE` (types, enums, title <= 255, slug lowercase-hyphen; unknown properties refused) | vendor-contracts.md §4 |
| slug unique | 422 `DUPLICATE_SLUG`; a generated slug (none sent) gets a numeric suffix instead | vendor-contracts.md §4 (the only documented duplicate code) |
| title unique | 422 `DUPLICATE_TITLE` (case-insensitive) | "Must be unique within your instance": .../docs/tutorials/creating-courses/; the code is the seed's **default** |
| externalId | stored and returned, not a uniqueness key: no `DUPLICATE_EXTERNAL_ID`, no `GET ...?externalId=` (neither is documented) | issue 12; the seed's **defaults** dropped |
| lookup by slug | `GET /incoming/v2/courseGroups/slug/:slug` answers `{data: {APICourseGroupBySlug: {id, title, slug, kind, status, ...}}}`; 404 `NOT_FOUND` when none | developer.thoughtindustries.com/docs/rest/course-groups/by-slug/ |
| update | `PUT /incoming/v2/courses/{id}` with the changed fields; 404 unknown id | vendor-contracts.md §4 |
| description | basic HTML only (`p strong em ul li a`), scripts dropped | vendor-contracts.md §4 |
| tags | trimmed, case-insensitive, auto-created | vendor-contracts.md §4 |
| customFields | unknown keys silently dropped | vendor-contracts.md §4 |
| auth | `Authorization: Bearer <key>`, else 401 | vendor-contracts.md §4 |
| instances | each instance its own site (`https://<domain>.thoughtindustries.com`) with its own courses and limits; here `/ti/<instance>` (a DNS label; another name is 404), the default also at `/thoughtindustries`; one key for all | vendor-contracts.md §4 (base URL); the shared key is the sandbox's **default** |
| 60 / minute | course management: 60 requests a minute, then 429 | developer.thoughtindustries.com/docs/rest/rate-limits/ ("Course management 60 per minute"; plans: Standard 120, Enterprise 600) and .../api-tutorials/create-courses/rate-limits (60) |
| 1,000 / hour | 1,000 requests an hour, then 429 | .../api-tutorials/create-courses/rate-limits ("Requests per hour: 1,000"; Enterprise 10,000) |
| 5 in flight | a sixth concurrent request is a 429 | .../api-tutorials/create-courses/rate-limits ("Concurrent connections: 5"; Enterprise 20) |
| 429 | `Retry-After` header and body `{error: "rate_limit_exceeded", message, retryAfter}`; every answer carries `X-RateLimit-Limit/-Remaining/-Reset` (epoch s) of the minute window | developer.thoughtindustries.com/docs/rest/rate-limits/ |

All three limits are settings (SandboxConfig.thought_industries_*), as are the client's
(THOUGHT_INDUSTRIES_RATE_LIMIT, THOUGHT_INDUSTRIES_HOURLY_LIMIT, THOUGHT_INDUSTRIES_WORKERS): the
plans differ, and the two pages disagree.
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

from .config import (
    SANDBOX_TOKENS,
    THOUGHT_INDUSTRIES_DEFAULT_INSTANCE,
    THOUGHT_INDUSTRIES_INSTANCE_PATTERN,
    SandboxConfig,
)
from .core import SimulatedVendor, VendorError, bearer_token
from .limits import ConcurrencyLimit, Limit, LimitStatus, SlidingWindow
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
# The bulk dialect: CourseAttributes with `kind` (CourseGroupKind) where the seed has courseType.
KINDS = ["courseGroup", "microCourse", "article", "video", "shareableContentObject", "xApiObject"]
BULK_REQUIRED = ("title", "kind")
_BULK_FIELDS = {**{k: v for k, v in _FIELDS.items() if k != "courseType"}, "kind": {"enum": KINDS}}
BULK_COURSE_SCHEMA: dict[str, Any] = {"type": "object", "properties": _BULK_FIELDS, "additionalProperties": False}
_bulk_validator = schema_validator(BULK_COURSE_SCHEMA)
BULK_PATH = "/incoming/v2/content/course/create"
THOUGHT_INDUSTRIES_INSTANCES = "/ti"  # + "/<instance>": where an instance's routes are (its host in real life)
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
    default_account = THOUGHT_INDUSTRIES_DEFAULT_INSTANCE
    input_invalid_code = "INVALID_FIELD_VALUE"
    rate_limited_code = "RATE_LIMIT_EXCEEDED"
    server_error_code = "INTERNAL_SERVER_ERROR"
    not_found_code = "NOT_FOUND"

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/incoming/v2/courses", self.create_course, methods=["POST"]),
            Route(BULK_PATH, self.create_courses, methods=["POST"]),
            Route("/incoming/v2/courses/{course_id}", self.update_course, methods=["PUT"]),
            Route("/incoming/v2/courseGroups/slug/{slug}", self.course_by_slug, methods=["GET"]),
        ]

    @staticmethod
    def account_of(scope: dict[str, Any]) -> str | None:
        return scope.get("path_params", {}).get("instance")  # set by the /ti/{instance} mount (app.py)

    @classmethod
    def is_known(cls, account: str, config: SandboxConfig) -> bool:
        return bool(THOUGHT_INDUSTRIES_INSTANCE_PATTERN.match(account))  # a host name's first label

    def build_limits(self) -> list[Limit]:
        settings = self.settings
        limits: list[Limit] = [SlidingWindow(settings["rate_limit"], settings["rate_window"],
                                             headers=_rate_headers, message="Rate limit exceeded")]
        if settings["hourly_limit"]:
            limits.append(SlidingWindow(settings["hourly_limit"], settings["hourly_window"],
                                        message="Hourly rate limit exceeded"))
        if settings["concurrency_limit"]:
            limits.append(ConcurrencyLimit(settings["concurrency_limit"], lambda scope: "instance",
                                           message="Too many concurrent requests"))
        return limits

    def _too_many(self, retry_after: int, message: str, code: str | None) -> JSONResponse:
        body = {"error": "rate_limit_exceeded", "message": f"{message}. Retry after {retry_after} seconds.",
                "retryAfter": retry_after}
        return JSONResponse(body, status_code=429, headers={"Retry-After": str(retry_after)})

    def error_body(self, status: int, message: Any, code: str | None) -> dict[str, Any]:
        return {"error": _LABELS.get(status, "Error"), "message": message, "code": code, "statusCode": status}

    def clear(self) -> None:
        self._tag_names: dict[str, str] = {}  # casefolded tag -> the spelling it was created with
        # (field, value) -> course id for the unique fields: a check per create stays O(1) at 5,000 courses.
        self._unique: dict[tuple[str, str], str] = {}

    def _authorize(self, request: Request) -> None:
        # An unknown instance reaches the stranger, who owns none (accounts.py): no such site, nothing there.
        if request.path_params.get("instance", self.account) != self.account:
            raise VendorError(404, "No such instance", code="NOT_FOUND")
        if bearer_token(request) != SANDBOX_TOKENS["thought_industries_api_key"]:
            raise VendorError(401, "Invalid or missing API key", code="UNAUTHORIZED")

    # POST /incoming/v2/courses: one course

    async def create_course(self, request: Request) -> JSONResponse:
        self._authorize(request)
        payload = await self.json_body(request)
        self._validate(payload, required=REQUIRED)
        with self.store.lock:
            course = self._create(payload)
        return JSONResponse(course, status_code=201)

    # POST /incoming/v2/content/course/create: up to 100, each answered on its own

    async def create_courses(self, request: Request) -> JSONResponse:
        self._authorize(request)
        payload = await self.json_body(request)
        items = payload.get("courseAttributes") if isinstance(payload, dict) else None
        if not isinstance(items, list) or not items:
            raise VendorError(400, "Missing required field: courseAttributes", code="MISSING_REQUIRED_FIELD")
        limit = self.config.thought_industries_max_batch
        if len(items) > limit:
            raise VendorError(400, f"Invalid field value: courseAttributes holds {len(items)} courses; "
                                   f"at most {limit} a request", code="INVALID_FIELD_VALUE")
        if set(payload) - {"courseAttributes"}:
            raise VendorError(400, f"Invalid field value: unknown properties {sorted(set(payload) - {'courseAttributes'})}",
                              code="INVALID_FIELD_VALUE")
        results = []
        for index, item in enumerate(items):
            try:
                self._validate(item, required=BULK_REQUIRED, validator=_bulk_validator)
                with self.store.lock:
                    course = self._create(item)
            except VendorError as exc:
                results.append({"index": index, "status": "failed",
                                "error": {"code": exc.code, "message": exc.message, "statusCode": exc.status}})
            else:
                results.append({"index": index, "status": "created", "course": course})
        return JSONResponse({"results": results})

    def _create(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A new course from either dialect (the store's lock held)."""
        now = utc_now()
        course = {"id": random_id(10, string.ascii_lowercase + string.digits, prefix="crs_"),
                  "courseType": None, "kind": None,
                  "description": "", "publishedStatus": "draft", "authors": [], "tags": [], "externalId": None,
                  "customFields": {}, "isFree": False, "source": None, **self._normalize(payload),
                  "createdAt": now, "updatedAt": now}
        if "slug" not in payload:
            course["slug"] = self._free_slug(slugify(course["title"]))
        course = _ordered(course)
        self._check_unique(course)
        self.store.create(course["id"], course["externalId"], course)
        self._index(course)
        return course

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
            self._index(course, before=record["body"])
        return JSONResponse(course)

    # GET /incoming/v2/courseGroups/slug/:slug

    async def course_by_slug(self, request: Request) -> JSONResponse:
        self._authorize(request)
        wanted = request.path_params["slug"]
        record = self.store.get(self._unique.get(("slug", wanted), ""))
        found = record["body"] if record else None
        if found is None:
            raise VendorError(404, "Course group not found", code="NOT_FOUND")
        group = {"id": found["id"], "title": found["title"], "slug": found["slug"],
                 "kind": found.get("kind") or _KIND_OF.get(found.get("courseType")), "status": found["publishedStatus"],
                 "authors": found["authors"], "description": found["description"],
                 "customFields": found["customFields"], "source": found["source"]}
        return JSONResponse({"data": {"APICourseGroupBySlug": group}})

    # Validation and normalisation.

    def _validate(self, payload: Any, *, required: tuple[str, ...], validator=_validator) -> None:
        if not isinstance(payload, dict):
            raise VendorError(400, "The request body must be a JSON object", code="INVALID_FIELD_VALUE")
        missing = [name for name in required if payload.get(name) is None]
        if missing:
            raise VendorError(400, f"Missing required field: {missing[0]}", code="MISSING_REQUIRED_FIELD")
        problems = issues(validator, payload)
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
        slug, n = base, 2
        while ("slug", slug) in self._unique:
            slug, n = f"{base}-{n}", n + 1
        return slug

    @staticmethod
    def _keys(course: dict[str, Any]) -> list[tuple[str, str]]:
        return [("slug", course["slug"]), ("title", course["title"].casefold())]

    def _check_unique(self, course: dict[str, Any]) -> None:
        # externalId is no key: the docs name no such check.
        for (field, value), code in zip(self._keys(course), ("DUPLICATE_SLUG", "DUPLICATE_TITLE"), strict=True):
            if self._unique.get((field, value), course["id"]) != course["id"]:
                raise VendorError(422, f"A course with this {field} already exists: {course[field]!r}", code=code)

    def _index(self, course: dict[str, Any], before: dict[str, Any] | None = None) -> None:
        for key in self._keys(before) if before else ():
            self._unique.pop(key, None)
        for key in self._keys(course):
            self._unique[key] = course["id"]


_KIND_OF = {"course": "courseGroup", "video": "video", "article": "article", "scorm": "shareableContentObject",
            "xapi": "xApiObject"}  # what a single-dialect course shows as in the by-slug answer


def _ordered(course: dict[str, Any]) -> dict[str, Any]:
    """The course in the order the API answers it: id first, then the documented fields."""
    order = ["id", "title", "courseType", "kind", "slug", "description", "publishedStatus", "authors", "tags",
             "externalId", "customFields", "isFree", "source", "createdAt", "updatedAt"]
    # Each dialect's type field only where it was sent.
    return {name: course[name] for name in order if not (name in ("courseType", "kind") and course[name] is None)}
