"""What a client needs to talk to one vendor account, and how a client and a builder are made from it.

Nothing here reads the environment or knows of the sandbox: the Dagster resources (defs/resources.py)
resolve the settings when a run starts, secrets from their environment variables."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..catalog.errors import ConfigError
from . import BUILDERS, CLIENTS
from .base import PayloadBuilder
from .client import VendorClient
from .highlevel.client import API_VERSION, HighLevelOAuth
from .transport import BasicAuth, BearerAuth, HttpTransport, Limits, RateLimiter, Redactor, RetryPolicy


@dataclass(frozen=True)
class VendorSettings:
    """Everything needed to talk to one vendor account. Secrets are never printed (see __repr__)."""

    name: str
    base_url: str
    account: str
    secret: str | None = field(default=None, repr=False)
    limits: Limits | None = None  # None: the client's documented limits
    batch_size: int | None = None
    workers: int | None = None
    read_timeout: float = 30.0
    # HighLevel OAuth (used when refresh_token is set and no static token is).
    refresh_token: str | None = field(default=None, repr=False)
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    token_file: Path | None = None
    retry: RetryPolicy | None = None  # None: the transport's default budget
    # Vendor-specific client options (StackOne's batch_path, Kombo's polling, ...).
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def uses_oauth(self) -> bool:
        return self.name == "highlevel" and not self.secret and bool(self.refresh_token)

    def secrets(self) -> list[str]:
        return [s for s in (self.secret, self.refresh_token, self.client_secret) if s]


def parse_rate(text: str) -> Limits:
    """'100/10' (requests per seconds) as Limits."""
    try:
        count, _, seconds = text.partition("/")
        return Limits(requests=int(count), window=float(seconds or 1))
    except ValueError:
        raise ConfigError(f"rate limit {text!r} should read like 100/10 (requests per seconds)") from None


def seconds_per_item(vendor: str, rate_limit: str | None = None, hourly_limit: str | None = None,
                     batch_size: int | None = None) -> float:
    """The least time one item takes at this pace: the slowest window's seconds per request, over the items a
    request carries; 0 for a vendor paced only by requests in flight. The vendor's documented pace where none
    is given, as make_client builds it."""
    client = CLIENTS[vendor]
    limits = parse_rate(rate_limit) if rate_limit else client.limits
    also = tuple(parse_rate(hourly_limit).windows()) if hourly_limit else client.limits.also
    per_request = max((seconds / count for count, seconds in replace(limits, also=also).windows()), default=0.0)
    return per_request / (batch_size or client.batch_size)


def make_builder(settings: VendorSettings) -> PayloadBuilder:
    if settings.name == "highlevel":
        return BUILDERS["highlevel"](location_id=settings.account)
    return BUILDERS[settings.name]()


def _auth(settings: VendorSettings, redactor: Redactor):
    if settings.uses_oauth:
        if not (settings.client_id and settings.client_secret and settings.token_file):
            raise ConfigError("highlevel: OAuth needs a client id, a client secret and a token file")
        return HighLevelOAuth(base_url=settings.base_url, client_id=settings.client_id,
                              client_secret=settings.client_secret, refresh_token=settings.refresh_token or "",
                              token_file=settings.token_file, redactor=redactor)
    if not settings.secret:
        raise ConfigError(f"{settings.name}: no credential for {settings.base_url}")
    if settings.name == "stackone":
        return BasicAuth(settings.secret)
    return BearerAuth(settings.secret)


def make_client(settings: VendorSettings, redactor: Redactor | None = None) -> VendorClient:
    """A client with its own session and limiter (one per sync step: all its threads share them)."""
    redactor = redactor or Redactor()
    for secret in settings.secrets():
        redactor.add(secret)
    client_class = CLIENTS[settings.name]
    workers = settings.workers or client_class.workers
    headers = {"highlevel": {"Version": API_VERSION}, "kombo": {"X-Integration-Id": settings.account},
               "stackone": {"x-account-id": settings.account}}.get(settings.name, {})
    limits = settings.limits or client_class.limits
    if settings.limits and client_class.limits.concurrency and not settings.limits.concurrency:
        limits = replace(limits, concurrency=client_class.limits.concurrency)
    if settings.limits and client_class.limits.also and not settings.limits.also:
        limits = replace(limits, also=client_class.limits.also)  # a new rate keeps the vendor's other windows
    transport = HttpTransport(settings.name, settings.base_url, _auth(settings, redactor), RateLimiter(limits),
                              headers=headers, timeout=(5.0, settings.read_timeout), redactor=redactor,
                              retry=settings.retry, pool_size=max(workers, 4))
    client = client_class(transport, settings.account, **settings.options)
    if settings.batch_size:
        client.batch_size = settings.batch_size
    client.workers = workers
    return client
