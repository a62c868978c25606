"""Vendor settings from the environment. Every default points at the local sandbox with its tokens,
so a fresh checkout runs; a live base URL without its secret stops at start with a clear message.

    HIGHLEVEL_BASE_URL, HIGHLEVEL_TOKEN (Private Integration Token) or HIGHLEVEL_REFRESH_TOKEN with
    HIGHLEVEL_CLIENT_ID and HIGHLEVEL_CLIENT_SECRET (OAuth), HIGHLEVEL_LOCATION_ID, HIGHLEVEL_TOKEN_FILE
    KOMBO_BASE_URL, KOMBO_API_KEY, KOMBO_INTEGRATION_ID
    STACKONE_BASE_URL, STACKONE_API_KEY, STACKONE_ACCOUNT_ID
    THOUGHT_INDUSTRIES_BASE_URL, THOUGHT_INDUSTRIES_API_KEY
    COURSE_PIPELINE_VENDORS (comma-separated; default all four)
    <VENDOR>_RATE_LIMIT ("100/10": requests per seconds), <VENDOR>_BATCH_SIZE, <VENDOR>_WORKERS,
    <VENDOR>_TIMEOUT (read timeout, seconds), KOMBO_MAX_IN_FLIGHT, STACKONE_BATCH_PATH
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlparse

from ..catalog.errors import ConfigError
from ..sandbox.config import SANDBOX_TOKENS
from . import CLIENTS, VENDORS
from .base import Vendor
from .sync import VendorClient
from .transport import BasicAuth, BearerAuth, HttpTransport, Limits, RateLimiter, Redactor

SANDBOX_URL_ENV = "COURSE_PIPELINE_SANDBOX_URL"  # where the local sandbox is (default port 8787)
DEFAULT_SANDBOX_URL = "http://127.0.0.1:8787"
SANDBOX_PATHS = {"highlevel": "/highlevel", "kombo": "/kombo/v1", "stackone": "/stackone",
                 "thought_industries": "/thoughtindustries"}
ENV_PREFIX = {"highlevel": "HIGHLEVEL", "kombo": "KOMBO", "stackone": "STACKONE",
              "thought_industries": "THOUGHT_INDUSTRIES"}
# The vendors' documented limits (vendor-contracts.md).
DEFAULT_LIMITS = {"highlevel": Limits(requests=100, window=10.0), "kombo": Limits(concurrency=30),
                  "stackone": Limits(requests=10, window=1.0), "thought_industries": Limits(requests=100, window=60.0)}
# secret env var -> sandbox value, per vendor (the account variables likewise).
SECRETS = {"highlevel": ("HIGHLEVEL_TOKEN", "highlevel_token"), "kombo": ("KOMBO_API_KEY", "kombo_api_key"),
           "stackone": ("STACKONE_API_KEY", "stackone_api_key"),
           "thought_industries": ("THOUGHT_INDUSTRIES_API_KEY", "thought_industries_api_key")}
ACCOUNTS = {"highlevel": ("HIGHLEVEL_LOCATION_ID", "highlevel_location_id"),
            "kombo": ("KOMBO_INTEGRATION_ID", "kombo_integration_id"),
            "stackone": ("STACKONE_ACCOUNT_ID", "stackone_account_id")}


def is_local(url: str) -> bool:
    host = urlparse(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


def sandbox_secret(name: str, base_url: str) -> str | None:
    """The sandbox's fake secret for a local base URL; None for a live vendor."""
    return SANDBOX_TOKENS[SECRETS[name][1]] if is_local(base_url) else None


@dataclass(frozen=True)
class VendorSettings:
    """Everything needed to talk to one vendor account. `secret` is never printed (see __repr__)."""

    name: str
    base_url: str
    account: str
    secret: str | None = field(default=None, repr=False)
    limits: Limits = Limits()
    batch_size: int | None = None
    workers: int | None = None
    read_timeout: float = 30.0
    # HighLevel OAuth (used when refresh_token is set and no static token is).
    refresh_token: str | None = field(default=None, repr=False)
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    token_file: Path = Path("data/state/highlevel_oauth.json")

    @property
    def uses_oauth(self) -> bool:
        return self.name == "highlevel" and not self.secret and bool(self.refresh_token)

    def check(self) -> None:
        """A live vendor needs its secret; say which variable is missing."""
        if self.secret or self.uses_oauth:
            if self.uses_oauth and not (self.client_id and self.client_secret):
                raise ConfigError(f"{self.name}: HIGHLEVEL_REFRESH_TOKEN needs HIGHLEVEL_CLIENT_ID and "
                                  "HIGHLEVEL_CLIENT_SECRET")
            return
        variable = SECRETS[self.name][0]
        raise ConfigError(f"{self.name}: {variable} is not set, and {self.base_url} is not the local sandbox; "
                          f"set {variable}" + (" (or HIGHLEVEL_REFRESH_TOKEN with HIGHLEVEL_CLIENT_ID and "
                                               "HIGHLEVEL_CLIENT_SECRET)" if self.name == "highlevel" else ""))

    def secrets(self) -> list[str]:
        return [s for s in (self.secret, self.refresh_token, self.client_secret) if s]


def _limits(text: str | None, default: Limits, max_in_flight: str | None) -> Limits:
    limits = default
    if text:
        try:
            count, _, seconds = text.partition("/")
            limits = replace(limits, requests=int(count), window=float(seconds or 1))
        except ValueError:
            raise ConfigError(f"rate limit {text!r} should read like 100/10 (requests per seconds)") from None
    if max_in_flight:
        limits = replace(limits, concurrency=int(max_in_flight))
    return limits


def settings_from_env(name: str, env: Mapping[str, str] | None = None, *, sandbox_url: str | None = None,
                      check: bool = True) -> VendorSettings:
    """One vendor's settings; `sandbox_url` replaces the default sandbox address (tests, demo).
    With check, a live vendor without its secret is a ConfigError naming the variable."""
    env = os.environ if env is None else env
    prefix = ENV_PREFIX[name]
    sandbox_url = sandbox_url or env.get(SANDBOX_URL_ENV) or DEFAULT_SANDBOX_URL
    base_url = env.get(f"{prefix}_BASE_URL") or f"{sandbox_url.rstrip('/')}{SANDBOX_PATHS[name]}"
    local = is_local(base_url)
    secret_var = SECRETS[name][0]
    secret = env.get(secret_var) or sandbox_secret(name, base_url)
    if name in ACCOUNTS:
        account_var, sandbox_account = ACCOUNTS[name]
        account = env.get(account_var) or (SANDBOX_TOKENS[sandbox_account] if local else "")
        if not account and check:
            raise ConfigError(f"{name}: {account_var} is not set (the account courses are synced into)")
    else:  # Thought Industries: the instance (its host) is the account
        account = urlparse(base_url).hostname or base_url
    refresh = env.get("HIGHLEVEL_REFRESH_TOKEN") if name == "highlevel" else None
    if refresh and not env.get(secret_var):
        secret = None  # OAuth was asked for: do not fall back to the sandbox's static token
    optional_int = (lambda key: int(env[key]) if env.get(key) else None)  # noqa: E731
    settings = VendorSettings(
        name=name, base_url=base_url, account=account, secret=secret,
        limits=_limits(env.get(f"{prefix}_RATE_LIMIT"), DEFAULT_LIMITS[name],
                       env.get("KOMBO_MAX_IN_FLIGHT") if name == "kombo" else None),
        batch_size=optional_int(f"{prefix}_BATCH_SIZE"), workers=optional_int(f"{prefix}_WORKERS"),
        read_timeout=float(env.get(f"{prefix}_TIMEOUT") or 30.0),
        refresh_token=refresh, client_id=env.get("HIGHLEVEL_CLIENT_ID") if name == "highlevel" else None,
        client_secret=env.get("HIGHLEVEL_CLIENT_SECRET") if name == "highlevel" else None,
        token_file=Path(env.get("HIGHLEVEL_TOKEN_FILE") or "data/state/highlevel_oauth.json"),
    )
    if check:
        settings.check()
    return settings


def enabled_vendors(env: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if env is None else env
    names = [n.strip() for n in (env.get("COURSE_PIPELINE_VENDORS") or ",".join(VENDORS)).split(",") if n.strip()]
    unknown = [n for n in names if n not in VENDORS]
    if unknown:
        raise ConfigError(f"COURSE_PIPELINE_VENDORS names unknown vendor(s) {', '.join(unknown)}; "
                          f"vendors are: {', '.join(VENDORS)}")
    return names


def make_builder(settings: VendorSettings) -> Vendor:
    if settings.name == "highlevel":
        return VENDORS["highlevel"](location_id=settings.account)
    return VENDORS[settings.name]()


def make_client(settings: VendorSettings, redactor: Redactor | None = None, **client_options) -> VendorClient:
    """A client with its own session and limiter (one per sync step: all its threads share them)."""
    from .highlevel import API_VERSION, HighLevelOAuth

    redactor = redactor or Redactor()
    for secret in settings.secrets():
        redactor.add(secret)
    client_class = CLIENTS[settings.name]
    workers = settings.workers or client_class.workers
    headers: dict[str, str] = {}
    if settings.name == "highlevel":
        headers["Version"] = API_VERSION
        auth = HighLevelOAuth(base_url=settings.base_url, client_id=settings.client_id or "",
                              client_secret=settings.client_secret or "", refresh_token=settings.refresh_token or "",
                              token_file=settings.token_file, redactor=redactor) if settings.uses_oauth \
            else BearerAuth(settings.secret or "")
    elif settings.name == "kombo":
        headers["X-Integration-Id"] = settings.account
        auth = BearerAuth(settings.secret or "")
    elif settings.name == "stackone":
        headers["x-account-id"] = settings.account
        auth = BasicAuth(settings.secret or "")
    else:
        auth = BearerAuth(settings.secret or "")
    transport = HttpTransport(settings.name, settings.base_url, auth, RateLimiter(settings.limits), headers=headers,
                              timeout=(5.0, settings.read_timeout), redactor=redactor, pool_size=max(workers, 4))
    if settings.name == "stackone" and os.environ.get("STACKONE_BATCH_PATH"):
        client_options.setdefault("batch_path", os.environ["STACKONE_BATCH_PATH"])
    client = client_class(transport, settings.account, **client_options)
    if settings.batch_size:
        client.batch_size = settings.batch_size
    client.workers = workers
    return client
