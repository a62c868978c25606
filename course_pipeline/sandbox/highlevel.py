"""HighLevel (LeadConnector): course import and the OAuth token endpoint.

Every import creates new courses: HighLevel has no external id and no upsert, so a re-sent
course is a duplicate here as it is there. The external key in the state is the product title.
"""

from __future__ import annotations

import math
import secrets
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from .config import SANDBOX_TOKENS
from .core import SimulatedVendor, VendorError, bearer_token
from .limits import Limit, LimitStatus, SlidingWindow
from .schemas import issues, openapi_validator
from .state import random_id

API_VERSION = "2021-07-28"
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


class OAuthError(Exception):
    """RFC 6749 error (HighLevel documents none of its own for the token endpoint)."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


class HighLevel(SimulatedVendor):
    name = "highlevel"
    prefix = "/highlevel"

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/courses/courses-exporter/public/import", self.import_courses, methods=["POST"]),
            Route("/oauth/token", self.oauth_token, methods=["POST"]),
        ]

    def build_limits(self) -> list[Limit]:
        return [
            SlidingWindow(self.config.highlevel_rate_limit, self.config.highlevel_rate_window,
                          headers=_burst_headers, message="Too many requests"),
            SlidingWindow(self.config.highlevel_daily_limit, _DAY,
                          headers=_daily_headers, message="Daily request limit reached"),
        ]

    def error_body(self, status: int, message: Any, code: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"statusCode": status, "message": message}
        if status == 422:  # NestJS validation answer: a list of messages and the status text
            body["error"] = "Unprocessable Entity"
        return body

    def clear(self) -> None:
        self._access_tokens: dict[str, float] = {}  # token -> expiry (config.clock)
        self._refresh_tokens = {SANDBOX_TOKENS["highlevel_refresh_token"]}

    # POST /courses/courses-exporter/public/import

    async def import_courses(self, request: Request) -> JSONResponse:
        location_id = self._location_of(bearer_token(request))
        version = request.headers.get("version")
        if version is None:
            raise VendorError(400, "Version header was not found")
        if version != API_VERSION:
            raise VendorError(400, f"Version header must be {API_VERSION}")
        payload = await self.json_body(request)
        # Access is checked before the body is validated, as the vendor's guards run before its pipes.
        if isinstance(payload, dict) and isinstance(payload.get("locationId"), str) \
                and payload["locationId"] != location_id:
            raise VendorError(403, "The token does not have access to this location.")
        problems = issues(openapi_validator(SCHEMA_FILE, "PublicExporterPayload"), payload)
        if problems:
            raise VendorError(422, [str(problem) for problem in problems])
        created = []
        for product in payload["products"]:
            record = self.store.create(random_id(20), product["title"], product, location_id=location_id)
            created.append({"id": record["id"], "title": product["title"]})
        return JSONResponse({"processingCourses": created}, status_code=201)

    def _location_of(self, token: str | None) -> str:
        """The location a token opens: the Private Integration Token or an unexpired access token."""
        with self.store.lock:
            valid = token == SANDBOX_TOKENS["highlevel_token"] or (
                token is not None and self._access_tokens.get(token, 0.0) > self.config.clock()
            )
        if not valid:
            raise VendorError(401, "Invalid JWT")
        return SANDBOX_TOKENS["highlevel_location_id"]

    # POST /oauth/token

    async def oauth_token(self, request: Request) -> JSONResponse:
        try:
            answer = self._refresh(await request.body(), request.headers.get("content-type", ""))
        except OAuthError as exc:
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
        return {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": math.ceil(lifetime),
            "refresh_token": refresh_token,
            "scope": "courses.write courses.readonly",
            "userType": "Location",
            "locationId": SANDBOX_TOKENS["highlevel_location_id"],
            "companyId": "sandbox-company-1",
            "userId": "sandbox-user-1",
        }
