"""The sandbox target: a vendor account in the local vendor sandbox (course_pipeline.sandbox), with the
sandbox's fake credentials. The default target, so `make demo` and `make test` need nothing else; the
only module outside sandbox/ that knows of it. A live target (resources.py) never gets these."""

from __future__ import annotations

import os

from ..sandbox import SANDBOX_TOKENS, SandboxServer, base_urls, serve
from ..vendors.settings import VendorSettings
from .resources import VendorTarget, token_file

SANDBOX_URL_ENV = "COURSE_PIPELINE_SANDBOX_URL"
DEFAULT_SANDBOX_URL = "http://127.0.0.1:8787"
_CREDENTIALS = {  # vendor -> (secret, account); Thought Industries' account is the sandbox's host
    "highlevel": ("highlevel_token", "highlevel_location_id"),
    "kombo": ("kombo_api_key", "kombo_integration_id"),
    "stackone": ("stackone_api_key", "stackone_account_id"),
    "thought_industries": ("thought_industries_api_key", None),
}


class SandboxTarget(VendorTarget):
    """One vendor in the sandbox at `url` (unset: COURSE_PIPELINE_SANDBOX_URL, else 127.0.0.1:8787).
    With oauth, HighLevel is reached through the sandbox's OAuth endpoint instead of its static token."""

    name: str
    url: str | None = None
    oauth: bool = False
    dialect: str | None = None  # Thought Industries only: single | bulk, as LiveThoughtIndustries
    hourly_limit: str | None = None  # Thought Industries only, as LiveThoughtIndustries

    @property
    def vendor(self) -> str:
        return self.name

    def settings(self) -> VendorSettings:
        url = self.url or os.environ.get(SANDBOX_URL_ENV) or DEFAULT_SANDBOX_URL
        secret_key, account_key = _CREDENTIALS[self.name]
        account = SANDBOX_TOKENS[account_key] if account_key else "sandbox.thoughtindustries.local"
        oauth = {}
        if self.oauth:
            oauth = {"refresh_token": SANDBOX_TOKENS["highlevel_refresh_token"],
                     "client_id": SANDBOX_TOKENS["highlevel_client_id"],
                     "client_secret": SANDBOX_TOKENS["highlevel_client_secret"], "token_file": token_file()}
        return VendorSettings(name=self.name, base_url=base_urls(url.rstrip("/"))[self.name], account=account,
                              secret=None if self.oauth else SANDBOX_TOKENS[secret_key], **oauth, **self.tuning())


__all__ = ["DEFAULT_SANDBOX_URL", "SANDBOX_URL_ENV", "SandboxServer", "SandboxTarget", "sandbox_targets", "serve"]


def sandbox_targets(highlevel_oauth: bool = False) -> dict[str, SandboxTarget]:
    """Every vendor in the sandbox; with highlevel_oauth, HighLevel through its OAuth endpoint."""
    return {name: SandboxTarget(name=name, oauth=highlevel_oauth and name == "highlevel") for name in _CREDENTIALS}
