"""The sandbox target: a vendor account in the local vendor sandbox (course_pipeline.sandbox), with the
sandbox's fake credentials. The default target, so `make demo` and `make test` need nothing else; the
only module outside sandbox/ that knows of it. A live target (resources.py) never gets these."""

from __future__ import annotations

import os

from ..destinations import Destination, Destinations
from ..sandbox import SANDBOX_TOKENS, SandboxServer, sandbox_account, serve
from ..vendors.settings import VendorSettings
from .resources import VendorTarget, token_file

SANDBOX_URL_ENV = "COURSE_PIPELINE_SANDBOX_URL"
DEFAULT_SANDBOX_URL = "http://127.0.0.1:8787"


class SandboxTarget(VendorTarget):
    """One vendor account in the sandbox at `url` (unset: COURSE_PIPELINE_SANDBOX_URL, else 127.0.0.1:8787):
    the default one, or a destination's (`account`: its id in the sandbox, a Thought Industries instance's
    name). With oauth, HighLevel is reached through the sandbox's OAuth endpoint instead of its static token."""

    name: str
    url: str | None = None
    oauth: bool = False
    account: str | None = None
    dialect: str | None = None  # Thought Industries only: single | bulk, as LiveThoughtIndustries

    @property
    def vendor(self) -> str:
        return self.name

    def settings(self) -> VendorSettings:
        url = (self.url or os.environ.get(SANDBOX_URL_ENV) or DEFAULT_SANDBOX_URL).rstrip("/")
        found = sandbox_account(url, self.name, self.account)
        oauth = {}
        if self.oauth and self.account is None:
            oauth = {"refresh_token": SANDBOX_TOKENS["highlevel_refresh_token"],
                     "client_id": SANDBOX_TOKENS["highlevel_client_id"],
                     "client_secret": SANDBOX_TOKENS["highlevel_client_secret"], "token_file": token_file()}
        return VendorSettings(name=self.name, base_url=found["base_url"], account=found["account"],
                              secret=None if oauth else found["secret"], **oauth, **self.tuning())


__all__ = ["DEFAULT_SANDBOX_URL", "SANDBOX_URL_ENV", "SandboxServer", "SandboxTarget", "sandbox_targets", "serve"]


# The ids the sandbox serves without being told of them (sandbox/server.py sandbox_account): Kombo's
# integrations "sandbox:<name>", StackOne's accounts "sandbox-<name>", Thought Industries' instances a DNS label.
SANDBOX_ID = {"kombo": "sandbox:{}", "stackone": "sandbox-{}"}


def sandbox_id(destination: Destination) -> str:
    """A named destination's account in the sandbox: its `account`, else its name, as the sandbox spells ids."""
    account = destination.account or destination.name
    if destination.vendor == "thought_industries":
        return account.replace("_", "-")
    pattern = SANDBOX_ID.get(destination.vendor, "{}")
    return account if account.startswith(pattern.format("")) else pattern.format(account)


def sandbox_targets(destinations: Destinations, highlevel_oauth: bool = False) -> dict[str, SandboxTarget]:
    """Every destination as an account of the sandbox (a named one's account: its `account`, else its name);
    with highlevel_oauth, HighLevel's default account through its OAuth endpoint."""
    targets = {}
    for d in destinations.all:
        targets[d.key] = SandboxTarget(name=d.vendor, oauth=highlevel_oauth and d.vendor == "highlevel",
                                       account=None if d.is_default else sandbox_id(d),
                                       destination=d.name, **d.tuning())
    return targets
