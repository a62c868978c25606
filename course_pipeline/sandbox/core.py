"""What the four simulated vendors share: the gate every request passes, error rendering, auth helpers.

Each vendor is a ``SimulatedVendor`` subclass that only says what differs: its routes, its error body,
its limits. The gate (``SimulatedVendor.__call__``) counts the request, applies the limits with the
vendor's headers, adds latency, draws a fault and then hands the request to the vendor's routes.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any, ClassVar

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute

from .config import SandboxConfig
from .faults import Draw, FaultInjector, Receive, Send, answer_late, process_then_reset, read_body, replay
from .limits import Limit, admit
from .state import VendorStore


class VendorError(Exception):
    """Raised by a handler; rendered in the vendor's own error shape."""

    def __init__(self, status: int, message: Any, *, code: str | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code
        self.headers = dict(headers or {})


class SimulatedVendor:
    """One account of a vendor (a HighLevel location, a Kombo integration, a StackOne account, a Thought
    Industries instance): its courses, counters and limits. ``accounts.VendorAccounts`` holds a vendor's
    accounts and hands each request to its own; they share the vendor's faults."""

    name: ClassVar[str]
    prefix: ClassVar[str]
    default_account: ClassVar[str]  # the one account of the sandbox before there were more (SANDBOX_TOKENS)
    # Codes the vendor puts in its error bodies for these cases (None: the vendor has no codes).
    input_invalid_code: ClassVar[str | None] = None
    rate_limited_code: ClassVar[str | None] = None
    server_error_code: ClassVar[str | None] = None
    not_found_code: ClassVar[str | None] = None
    # Whether the vendor's 429 carries Retry-After (HighLevel documents only its X-RateLimit-* headers).
    sends_retry_after: ClassVar[bool] = True

    def __init__(self, config: SandboxConfig, account: str | None = None,
                 faults: FaultInjector | None = None) -> None:
        self.config = config
        self.account = self.default_account if account is None else account
        # This account's limit fields (config.ACCOUNT_FIELDS): its overrides, else the vendor's.
        self.settings = config.limits_for(self.name, self.account)
        self.store = VendorStore()
        self.clear()
        self.faults = faults or FaultInjector(config.faults_for(self.name))
        self.limits: list[Limit] = self.build_limits()
        self._routes = Starlette(
            routes=self.routes(),
            exception_handlers={VendorError: self._render_error, HTTPException: self._render_http_error},
        )

    # What each vendor defines.

    def routes(self) -> list[BaseRoute]:
        raise NotImplementedError

    def error_body(self, status: int, message: Any, code: str | None) -> dict[str, Any]:
        raise NotImplementedError

    def build_limits(self) -> list[Limit]:
        return []

    def clear(self) -> None:
        """Set up vendor-specific state (tokens, tasks); the store holds courses and counters."""

    @staticmethod
    def account_of(scope: dict[str, Any]) -> str | None:
        """The account a request names (None: it names none, and the default account answers it)."""
        return None

    @classmethod
    def is_known(cls, account: str, config: SandboxConfig) -> bool:
        """Whether `account` exists; a request naming one that does not is refused (see accounts.py)."""
        return account == cls.default_account or f"{cls.name}/{account}" in config.accounts

    # Inspection.

    def snapshot(self) -> dict[str, Any]:
        return self.store.snapshot()

    # Rendering.

    def error_response(self, status: int, message: Any, code: str | None = None,
                       headers: Mapping[str, str] | None = None) -> JSONResponse:
        return JSONResponse(self.error_body(status, message, code), status_code=status, headers=headers)

    async def _render_error(self, request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, VendorError)
        return self.error_response(exc.status, exc.message, exc.code, exc.headers)

    async def _render_http_error(self, request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        code = self.not_found_code if exc.status_code == 404 else None
        path = request.url.path.removeprefix(request.scope.get("root_path", ""))  # the vendor's own path
        return self.error_response(exc.status_code, f"Cannot {request.method} {path}", code, exc.headers)

    # Request helpers for the handlers.

    async def json_body(self, request: Request, *, allow_empty: bool = False) -> Any:
        """The parsed JSON body; a missing JSON content type or bad JSON is the vendor's 400."""
        body = await request.body()
        if allow_empty and not body.strip():
            return {}
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            raise VendorError(400, "Content-Type must be application/json", code=self.input_invalid_code)
        try:
            return json.loads(body)
        except ValueError as exc:
            raise VendorError(400, f"Malformed JSON body: {exc}", code=self.input_invalid_code) from exc

    # The gate.

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._routes(scope, receive, send)
            return
        client_receive = receive
        receive = replay(await read_body(client_receive), client_receive)
        self.store.count_request()
        refusal, limit_headers = admit(self.limits, scope, self.config.clock())
        send = _with_headers(send, limit_headers)
        if refusal is not None:
            self.store.count_throttled()
            await self._too_many(refusal.retry_after, refusal.message, refusal.code)(scope, receive, send)
            return
        try:
            await self.faults.add_latency()
            await self._answer(self.faults.draw(), scope, receive, client_receive, send)
        finally:
            for limit in self.limits:
                limit.finish(scope)

    async def _answer(self, draw: Draw, scope: dict[str, Any], receive: Receive, client_receive: Receive,
                      send: Send) -> None:
        """Answer through the vendor's routes, or through the fault drawn for this request."""
        if draw.fault is None:
            await self._routes(scope, receive, send)
            return
        self.store.count_fault(draw.fault)
        if draw.fault == "500":
            await self.error_response(500, "Internal server error", self.server_error_code)(scope, receive, send)
        elif draw.fault == "429":
            await self._too_many(1, "Too many requests", self.rate_limited_code)(scope, receive, send)
        elif draw.fault == "reset":
            await process_then_reset(self._routes, scope, receive, client_receive, send)
        else:
            await answer_late(self._routes, scope, receive, client_receive, send,
                              seconds=self.faults.config.slow_seconds,
                              processed_before_delay=draw.processed_before_delay)

    def _too_many(self, retry_after: int, message: str, code: str | None) -> JSONResponse:
        headers = {"Retry-After": str(retry_after)} if self.sends_retry_after else None
        return self.error_response(429, message, code, headers)


def _with_headers(send: Send, headers: Mapping[str, str]) -> Send:
    if not headers:
        return send
    extra = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]

    async def sending(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return sending


# Auth helpers.

def scope_header(scope: dict[str, Any], name: bytes) -> str | None:
    """A request header (`name` in lower case) read from the ASGI scope, before Starlette parses it."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None
