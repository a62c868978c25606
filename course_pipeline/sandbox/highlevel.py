"""HighLevel (LeadConnector): course import and the OAuth token endpoint.

Every import creates new courses: HighLevel has no external id and no upsert, so a re-sent
course is a duplicate here as it is there. The external key in the state is the product title.

The rules, each with its test in tests/sandbox/test_highlevel.py (or test_faults.py). Sources: "seed" is
vendor-contracts.md section 1 (with vendor-schemas/highlevel-courses.openapi.json, HighLevel's own
OpenAPI file for the importer); "docs" pages are on marketplace.gohighlevel.com; "issue 12" rows are
that issue's report of what HighLevel refuses, which none of HighLevel's pages states (searched: the v3
and 2023-02-21 Import Courses pages, the OpenAPI file, the official Node and Python SDKs' models): if the
live API turns out to accept one, drop its row (the client copes either way: a refused product is
isolated and rejected with HighLevel's reason).

| rule | HighLevel's behaviour | source |
|---|---|---|
| bearer token | a Private Integration Token or an unexpired OAuth access token; else 401 `Invalid JWT` | seed |
| a token per location | a location's own token opens only it: `sandbox-highlevel-token:<location>` (the default location also takes `sandbox-highlevel-token` and the OAuth tokens, which open only it) | seed ("Private Integration Token of a sub-account/location") |
| location | a `locationId` the token does not open: 403 | seed |
| `Version` header | missing: 400 `Version header was not found` | seed; docs /docs/ghl/courses/import-courses (required) |
| `Version` values | `2021-07-28` (the seed's, and what our client sends), `2023-02-21` (that version of the Course Import page; the Node SDK's default), `v3` (the current page's enum; the Python SDK's); any other: 400 | seed; docs /docs/ghl/courses/import-courses, /docs/2023-02-21/ghl/courses/course-import, /docs/Versioning; GoHighLevel/highlevel-api-sdk lib/HighLevel.ts; GoHighLevel/highlevel-api-python src/highlevel/highlevel.py |
| JSON body | not `application/json`, or not JSON: 400 | seed |
| schema | `PublicExporterPayload` (required fields, enums, types): 422 `{statusCode, message: [...], error}` | seed (the OpenAPI file) |
| a 422 is whole | a refused request imports none of its products | seed: the 422 `{statusCode, message: [...], error}` is the shape of request validation (NestJS's), which runs before the handler; no page says it in words |
| `products: []` | 422 `products should not be empty` | issue 12 |
| `categories: []` | accepted: the schema requires the array, not an entry (a courses-only catalog sends none) | seed; docs (no minimum) |
| `imageUrl` | not a URL: 422 `products.N.imageUrl must be a URL address` (the docs say only: a string) | issue 12 |
| unknown properties | 422 `property X should not exist`, at any level | issue 12 |
| products per request | more than `highlevel_max_products` (50): 422. HighLevel documents no maximum; issue 12 saw 60 refused; 50 is our assumption, a setting | issue 12 |
| success | 201 `{"processingCourses": [{id, title}]}`; the copy runs in the background; the body is not documented | seed (default) |
| every import creates | a re-sent course is a duplicate | seed |
| rate headers | every answer: `X-RateLimit-Max`, `-Remaining`, `-Interval-Milliseconds`, `-Limit-Daily`, `-Daily-Remaining` | docs /docs/other/rate-limits |
| limits per location | each location has its own windows (`SandboxConfig.accounts` may set one location's) | seed ("per app per location") |
| burst limit | 100 per 10 s: 429 `Too many requests` with `X-RateLimit-Remaining: 0`, no `Retry-After` | docs /docs/other/rate-limits (Retry-After is not documented) |
| daily limit | 200,000 per day: 429 with `X-RateLimit-Daily-Remaining: 0`, no `Retry-After` | docs /docs/other/rate-limits |
| OAuth refresh | `POST /oauth/token`, form-encoded, `grant_type=refresh_token`, `user_type=Location`; answers a new access token, `expires_in` and a NEW refresh token; a refresh token works once (`invalid_grant` after) | seed |
| token expiry | an access token past `expires_in`: 401 `Invalid JWT` | seed |
| injected faults | 500, 429 (no `Retry-After`, as above), reset after processing, slow answers: switches of the sandbox | vendor-contracts.md (what the sandbox must do) |
| refused titles | a test switch (`highlevel_refused_titles`): those products are refused with 422, standing for what HighLevel refuses that is not modelled here | the sandbox's own (tests of the client's split) |
"""

from __future__ import annotations

import copy
import math
import secrets
from functools import cache
from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from .config import HIGHLEVEL_LOCATION_TOKEN_PREFIX, SANDBOX_TOKENS, SandboxConfig
from .core import SimulatedVendor, VendorError, bearer_token, scope_header
from .limits import Limit, LimitStatus, SlidingWindow
from .schemas import defs_validator, issues, openapi_validator, vendor_document
from .state import random_id

API_VERSIONS = ("2021-07-28", "2023-02-21", "v3")  # see the table: the seed's, and the docs' and SDKs' newer ones
SCHEMA_FILE = "highlevel-courses.openapi.json"
_DAY = 86_400.0


def _burst_headers(status: LimitStatus) -> dict[str, str]:
    return {
        "X-RateLimit-Max": str(status.limit),
        "X-RateLimit-Remaining": str(status.remaining),
        "X-RateLimit-Interval-Milliseconds": str(round(status.window * 1000)),
    }


def _daily_headers(status: LimitStatus) -> dict[str, str]:
    return {"X-RateLimit-Limit-Daily": str(status.limit), "X-RateLimit-Daily-Remaining": str(status.remaining)}


@cache
def _closed_schema():
    """The importer's schema with every object closed: a property it does not name is refused (issue 12)."""
    schemas = copy.deepcopy(vendor_document(SCHEMA_FILE)["components"]["schemas"])
    for schema in schemas.values():
        if schema.get("type") == "object":
            schema["additionalProperties"] = False
    return defs_validator(_local_refs(schemas), "PublicExporterPayload")


def _local_refs(node: Any) -> Any:
    """OpenAPI's #/components/schemas/X references as #/$defs/X."""
    if isinstance(node, dict):
        return {key: value.replace("#/components/schemas/", "#/$defs/") if key == "$ref" else _local_refs(value)
                for key, value in node.items()}
    if isinstance(node, list):
        return [_local_refs(value) for value in node]
    return node


def _is_url(value: str) -> bool:
    """Roughly class-validator's IsUrl: a host with a dot, an http(s) scheme or none, no blanks."""
    if not value or any(c.isspace() for c in value):
        return False
    parts = urlsplit(value if "://" in value else f"http://{value}")
    return parts.scheme in ("http", "https") and "." in (parts.hostname or "")


def beyond_the_schema(payload: dict[str, Any], max_products: int) -> list[str]:
    """What HighLevel refuses that its OpenAPI file does not say (the issue-12 rows of the table), in the
    words of its validation (NestJS class-validator)."""
    problems = []
    for error in _closed_schema().iter_errors(payload):
        if error.validator == "additionalProperties":
            where = ".".join(str(p) for p in error.absolute_path)
            for name in sorted(set(error.instance) - set(error.schema.get("properties", {}))):
                problems.append(f"{where + '.' if where else ''}property {name} should not exist")
    products = payload.get("products")
    if isinstance(products, list):
        if not products:
            problems.append("products should not be empty")
        if len(products) > max_products:
            problems.append(f"products must contain no more than {max_products} elements")
        for i, product in enumerate(products):
            image = product.get("imageUrl") if isinstance(product, dict) else None
            if isinstance(image, str) and not _is_url(image):
                problems.append(f"products.{i}.imageUrl must be a URL address")
    return problems


class OAuthError(Exception):
    """RFC 6749 error (HighLevel documents none of its own for the token endpoint)."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


class HighLevel(SimulatedVendor):
    name = "highlevel"
    prefix = "/highlevel"
    default_account = SANDBOX_TOKENS["highlevel_location_id"]
    sends_retry_after = False

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/courses/courses-exporter/public/import", self.import_courses, methods=["POST"]),
            Route("/oauth/token", self.oauth_token, methods=["POST"]),
        ]

    @staticmethod
    def account_of(scope: dict[str, Any]) -> str | None:
        """The location a location token names (the table: a token per location)."""
        scheme, _, token = (scope_header(scope, b"authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not token.startswith(HIGHLEVEL_LOCATION_TOKEN_PREFIX):
            return None
        return token.removeprefix(HIGHLEVEL_LOCATION_TOKEN_PREFIX).strip() or None

    @classmethod
    def is_known(cls, account: str, config: SandboxConfig) -> bool:
        return True  # a location's token is all it takes: the sandbox has every location its tokens name

    def build_limits(self) -> list[Limit]:
        return [
            SlidingWindow(self.settings["rate_limit"], self.settings["rate_window"],
                          headers=_burst_headers, message="Too many requests"),
            SlidingWindow(self.settings["daily_limit"], _DAY,
                          headers=_daily_headers, message="Daily request limit reached"),
        ]

    def error_body(self, status: int, message: Any, code: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"statusCode": status, "message": message}
        if status == 422:  # NestJS validation answer: a list of messages and the status text
            body["error"] = "Unprocessable Entity"
        return body

    def clear(self) -> None:
        self._access_tokens: dict[str, float] = {}  # token -> expiry (config.clock)
        self._static_tokens = {HIGHLEVEL_LOCATION_TOKEN_PREFIX + self.account} if self.account else set()
        self._refresh_tokens: set[str] = set()
        if self.account == self.default_account:  # the token of before accounts and the OAuth app open it only
            self._static_tokens.add(SANDBOX_TOKENS["highlevel_token"])
            self._refresh_tokens.add(SANDBOX_TOKENS["highlevel_refresh_token"])
        # For tests: refreshes granted and refused, and the distinct access tokens presented after they
        # expired (one refresh per expiry is what a single-flight client spends).
        self._oauth = {"refreshes": 0, "refused": 0}
        self._expired_seen: set[str] = set()

    def snapshot(self) -> dict[str, Any]:
        with self.store.lock:
            oauth = {**self._oauth, "expired_tokens": len(self._expired_seen)}
        return {**super().snapshot(), "oauth": oauth}

    # POST /courses/courses-exporter/public/import

    async def import_courses(self, request: Request) -> JSONResponse:
        location_id = self._location_of(bearer_token(request))
        version = request.headers.get("version")
        if version is None:
            raise VendorError(400, "Version header was not found")
        if version not in API_VERSIONS:
            raise VendorError(400, f"Version header must be one of {', '.join(API_VERSIONS)}")
        payload = await self.json_body(request)
        # Access is checked before the body is validated, as the vendor's guards run before its pipes.
        if isinstance(payload, dict) and isinstance(payload.get("locationId"), str) \
                and payload["locationId"] != location_id:
            raise VendorError(403, "The token does not have access to this location.")
        problems = [str(problem) for problem in issues(openapi_validator(SCHEMA_FILE, "PublicExporterPayload"), payload)]
        if isinstance(payload, dict):
            problems += beyond_the_schema(payload, self.config.highlevel_max_products)
            problems += [f"products.{i}.title {product['title']!r} is refused (the sandbox's test switch)"
                         for i, product in enumerate(payload.get("products") or [])
                         if isinstance(product, dict) and product.get("title") in self.config.highlevel_refused_titles]
        if problems:  # the whole request is refused: nothing of it is imported
            raise VendorError(422, problems)
        created = []
        for product in payload["products"]:
            record = self.store.create(random_id(20), product["title"], product, location_id=location_id)
            created.append({"id": record["id"], "title": product["title"]})
        return JSONResponse({"processingCourses": created}, status_code=201)

    def _location_of(self, token: str | None) -> str:
        """The location a token opens: the Private Integration Token or an unexpired access token."""
        with self.store.lock:
            expiry = self._access_tokens.get(token or "")
            valid = token in self._static_tokens or (expiry is not None and expiry > self.config.clock())
            if not valid and expiry is not None:
                self._expired_seen.add(token or "")
        if not valid:
            raise VendorError(401, "Invalid JWT")
        return self.account

    # POST /oauth/token

    async def oauth_token(self, request: Request) -> JSONResponse:
        try:
            answer = self._refresh(await request.body(), request.headers.get("content-type", ""))
        except OAuthError as exc:
            with self.store.lock:
                self._oauth["refused"] += 1
            return JSONResponse({"error": exc.error, "error_description": exc.description}, status_code=exc.status)
        return JSONResponse(answer)

    def _refresh(self, body: bytes, content_type: str) -> dict[str, Any]:
        if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
            raise OAuthError(400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded")
        form = {key: values[-1] for key, values in parse_qs(body.decode("utf-8", "replace")).items()}
        missing = [key for key in ("client_id", "client_secret", "grant_type") if not form.get(key)]
        if missing:
            raise OAuthError(400, "invalid_request", f"Missing parameters: {', '.join(missing)}")
        if (form["client_id"], form["client_secret"]) != (
            SANDBOX_TOKENS["highlevel_client_id"], SANDBOX_TOKENS["highlevel_client_secret"]
        ):
            raise OAuthError(401, "invalid_client", "Client authentication failed")
        if form["grant_type"] != "refresh_token":
            raise OAuthError(400, "unsupported_grant_type", "The sandbox supports grant_type=refresh_token only")
        if form.get("user_type", "Location") != "Location":
            raise OAuthError(400, "invalid_request", "The sandbox issues Location (sub-account) tokens only")
        lifetime = self.config.highlevel_token_lifetime
        with self.store.lock:
            # Rotation: a refresh token works once; the answer carries its successor.
            if form.get("refresh_token") not in self._refresh_tokens:
                raise OAuthError(400, "invalid_grant", "Invalid or already used refresh token")
            self._refresh_tokens.discard(form["refresh_token"])
            access_token, refresh_token = f"hl-at-{secrets.token_hex(16)}", f"hl-rt-{secrets.token_hex(16)}"
            self._refresh_tokens.add(refresh_token)
            self._access_tokens[access_token] = self.config.clock() + lifetime
            self._oauth["refreshes"] += 1
        return {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": math.ceil(lifetime),
            "refresh_token": refresh_token,
            "scope": "courses.write courses.readonly",
            "userType": "Location",
            "locationId": self.account,
            "companyId": "sandbox-company-1",
            "userId": "sandbox-user-1",
        }
