"""Resources: where the catalog sources are configured, each vendor account, and the ledger.

Secrets are never resource values: a vendor's secret is an EnvVar when its variable is set (Dagster
stores only the variable's name), and otherwise, for the local sandbox only, the sandbox's fake token
read at execution. A live base URL without its secret fails when the run starts, naming the variable."""

import os
from pathlib import Path

import dagster as dg

from ..catalog.sources import SourceConfig, find_source, load_sources
from ..ledger import Ledger
from ..vendors.settings import SECRETS, VendorSettings, sandbox_secret, settings_from_env
from ..vendors.transport import Limits

DEFAULT_SOURCES_FILE = "data/sources.yaml"


class CatalogSources(dg.ConfigurableResource):
    """The sources.yaml to read; relative paths are taken from the working directory (the checkout
    when run by `make ui` or `course-pipeline`)."""

    sources_file: str = DEFAULT_SOURCES_FILE

    def all(self) -> list[SourceConfig]:
        return load_sources(self.sources_file)

    def get(self, name: str) -> SourceConfig:
        return find_source(self.all(), name)


def default_sources_file() -> str:
    return os.environ.get("COURSE_PIPELINE_SOURCES", DEFAULT_SOURCES_FILE)


class LedgerResource(dg.ConfigurableResource):
    """The sync ledger; None means COURSE_PIPELINE_LEDGER_URL, else SQLite in data/state/ledger.db."""

    url: str | None = None

    def open(self) -> Ledger:
        return Ledger(self.url)


class VendorAccount(dg.ConfigurableResource):
    """One vendor account: where it is, how fast we may talk to it, how many items a request carries."""

    vendor: str
    base_url: str
    account: str
    secret: str | None = None  # an EnvVar; None: the sandbox's token when base_url is local
    rate_limit: int | None = None  # requests per rate_window
    rate_window: float = 1.0
    max_in_flight: int | None = None
    batch_size: int | None = None
    workers: int | None = None
    read_timeout: float = 30.0
    refresh_token: str | None = None  # HighLevel OAuth (EnvVar)
    client_id: str | None = None
    client_secret: str | None = None  # (EnvVar)
    token_file: str = "data/state/highlevel_oauth.json"

    def settings(self) -> VendorSettings:
        """The settings to build a client from, with the sandbox's token where no secret is configured and
        the URL is local; checked, so a live vendor without its secret stops here with a clear message."""
        settings = self.settings_unchecked()
        settings.check()
        return settings

    def settings_unchecked(self) -> VendorSettings:
        return VendorSettings(
            name=self.vendor, base_url=self.base_url, account=self.account,
            secret=self.secret or (sandbox_secret(self.vendor, self.base_url) if not self.refresh_token else None),
            limits=Limits(requests=self.rate_limit, window=self.rate_window, concurrency=self.max_in_flight),
            batch_size=self.batch_size, workers=self.workers, read_timeout=self.read_timeout,
            refresh_token=self.refresh_token, client_id=self.client_id, client_secret=self.client_secret,
            token_file=Path(self.token_file))


def vendor_account_from_env(name: str, sandbox_url: str | None = None) -> VendorAccount:
    """The resource for a vendor as the environment configures it (see vendors/settings.py)."""
    settings = settings_from_env(name, sandbox_url=sandbox_url, check=False)
    secret_var = SECRETS[name][0]
    env_or_none = (lambda var: dg.EnvVar(var) if os.environ.get(var) else None)  # noqa: E731
    return VendorAccount(
        vendor=name, base_url=settings.base_url, account=settings.account, secret=env_or_none(secret_var),
        rate_limit=settings.limits.requests, rate_window=settings.limits.window,
        max_in_flight=settings.limits.concurrency, batch_size=settings.batch_size, workers=settings.workers,
        read_timeout=settings.read_timeout,
        refresh_token=env_or_none("HIGHLEVEL_REFRESH_TOKEN") if name == "highlevel" else None,
        client_id=settings.client_id, client_secret=env_or_none("HIGHLEVEL_CLIENT_SECRET") if name == "highlevel"
        else None, token_file=str(settings.token_file))
