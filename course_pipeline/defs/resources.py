"""Resources: where the catalog sources are configured, the ledger, and one target per vendor.

A vendor target is a ConfigurableResource with two implementations, swapped by configuration (as
project_fully_featured swaps its HN client): a live account (here) and the local sandbox
(sandbox_target.py). Every field is resolved when a run starts. Secrets and accounts of a live target
are always EnvVar, so Dagster stores only the variables' names and a run whose environment lacks one
fails at its start naming the variable. The tuning fields (pace, batch size, workers, timeout) default
to the vendor's documented values; left unset, they are read from `<VENDOR>_RATE_LIMIT`,
`<VENDOR>_BATCH_SIZE`, `<VENDOR>_WORKERS` and `<VENDOR>_TIMEOUT` in the run's environment."""

from __future__ import annotations

import os
from abc import abstractmethod
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlparse

import dagster as dg

from ..catalog.errors import ConfigError
from ..catalog.sources import SourceConfig, Sources, read_sources
from ..destinations import DEFAULT, Destination, Destinations
from ..ledger import Ledger
from ..paths import default_sources_file, state_dir
from ..vendors import CLIENTS
from ..vendors.base import PayloadBuilder
from ..vendors.client import VendorClient
from ..vendors.settings import VendorSettings, make_builder, make_client, parse_rate
from ..vendors.transport import RetryPolicy

ENV_PREFIX = {"highlevel": "HIGHLEVEL", "kombo": "KOMBO", "stackone": "STACKONE",
              "thought_industries": "THOUGHT_INDUSTRIES"}
LIVE_URLS = {"highlevel": "https://services.leadconnectorhq.com", "kombo": "https://api.kombo.dev/v1",
             "stackone": "https://api.stackone.com"}  # Thought Industries: each instance has its own


class CatalogSources(dg.ConfigurableResource):
    """The sources.yaml to read. Unset: COURSE_PIPELINE_SOURCES, else the project's data/sources.yaml."""

    sources_file: str | None = None

    @property
    def path(self) -> Path:
        return Path(self.sources_file) if self.sources_file else default_sources_file()

    def read(self) -> Sources:
        return read_sources(self.path)

    def all(self) -> list[SourceConfig]:
        """Every source that can be configured; the others are reported where they are used."""
        return self.read().configured

    def get(self, name: str) -> SourceConfig:
        """A partition's source. One that cannot be configured fails the run with its one-line reason (and
        without a retry: nothing changes until sources.yaml does); the other partitions are unaffected."""
        try:
            return self.read().get(name)
        except ConfigError as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from None


class LedgerResource(dg.ConfigurableResource):
    """The sync ledger. Unset: COURSE_PIPELINE_LEDGER_URL, else SQLite in the project's state folder."""

    url: str | None = None

    def open(self) -> Ledger:
        return Ledger(self.url)


class VendorTarget(dg.ConfigurableResource):
    """One vendor account to sync into: what the sync step builds its client from."""

    rate_limit: str | None = None  # "100/10": requests per seconds
    batch_size: int | None = None
    workers: int | None = None
    read_timeout: float | None = None
    attempts: int | None = None  # transport attempts per request (default 6)
    backoff: float | None = None  # seconds before the first repeat, growing 1.5x (default 0.5)
    hourly_limit: str | None = None  # a second window, e.g. "1000/3600" (Thought Industries' hourly limit)
    destination: str = DEFAULT  # its name in the destinations file (default: today's single account)

    @property
    @abstractmethod
    def vendor(self) -> str: ...

    @abstractmethod
    def settings(self) -> VendorSettings:
        """The resolved settings of this account (secrets included; never printed)."""

    def client(self) -> VendorClient:
        return make_client(self.settings())

    def builder(self) -> PayloadBuilder:
        return make_builder(self.settings())

    def tuning(self) -> dict:
        """The pace and sizes: this resource's fields, else the run's environment, else the client's defaults."""
        prefix = ENV_PREFIX[self.vendor]
        rate = self.rate_limit or os.environ.get(f"{prefix}_RATE_LIMIT")

        def number(value, variable, kind):
            value = value if value is not None else os.environ.get(variable)
            return kind(value) if value not in (None, "") else None

        options = {}
        if self.vendor == "stackone" and os.environ.get("STACKONE_BATCH_PATH"):
            # StackOne's newer SDKs no longer list the course batch endpoint (vendor-contracts.md §3): where
            # it moves, STACKONE_BATCH_PATH (or LiveStackOne.batch_path) names the new one.
            options["batch_path"] = os.environ["STACKONE_BATCH_PATH"]
        if self.vendor == "stackone" and os.environ.get("STACKONE_CUSTOM_FIELDS") is not None:
            # The custom unified fields configured in the StackOne project (comma-separated): only these
            # are sent, as StackOne refuses the others.
            options["custom_fields"] = os.environ["STACKONE_CUSTOM_FIELDS"]
        if self.vendor == "thought_industries":
            # single (the seed's POST /incoming/v2/courses) or bulk (the documented courseAttributes[]).
            dialect = getattr(self, "dialect", None) or os.environ.get("THOUGHT_INDUSTRIES_DIALECT")
            if dialect:
                options["dialect"] = dialect
        if self.vendor == "kombo":
            for option, variable in (("poll_first", "KOMBO_POLL_SECONDS"), ("deadline", "KOMBO_POLL_DEADLINE")):
                if (value := number(None, variable, float)) is not None:
                    options[option] = value
        attempts, backoff = number(self.attempts, f"{prefix}_ATTEMPTS", int), \
            number(self.backoff, f"{prefix}_BACKOFF", float)
        retry = None
        if attempts is not None or backoff is not None:
            default = RetryPolicy()
            retry = RetryPolicy(attempts=attempts or default.attempts,
                                initial=default.initial if backoff is None else backoff)
        limits = parse_rate(rate) if rate else None
        hourly = self.hourly_limit or os.environ.get(f"{prefix}_HOURLY_LIMIT")
        if hourly:  # a second window held beside the first, e.g. Thought Industries' 1000/3600
            second = parse_rate(hourly)
            limits = replace(limits or CLIENTS[self.vendor].limits, also=((second.requests, second.window),))
        return {"limits": limits,
                "batch_size": number(self.batch_size, f"{prefix}_BATCH_SIZE", int),
                "workers": number(self.workers, f"{prefix}_WORKERS", int),
                "read_timeout": number(self.read_timeout, f"{prefix}_TIMEOUT", float) or 30.0,
                "retry": retry, "options": options}

    def base_url_or(self, default: str | None) -> str:
        """The default destination's URL may come from <VENDOR>_BASE_URL; a named one's is its own."""
        variable = f"{ENV_PREFIX[self.vendor]}_BASE_URL"
        url = (os.environ.get(variable) if self.destination == DEFAULT else None) or default
        if not url:
            raise dg.Failure(f"{self.vendor}: set {variable} (the instance's URL)" if self.destination == DEFAULT
                             else f"destination {self.vendor} {self.destination}: give its base_url (or "
                                  "base_url_env) in the destinations file")
        return url


ACCOUNT_WORD = {"highlevel": "the location id", "kombo": "the integration id", "stackone": "the account id"}


def token_file() -> Path:
    return Path(os.environ.get("HIGHLEVEL_TOKEN_FILE") or state_dir() / "highlevel_oauth.json")


class LiveHighLevel(VendorTarget):
    """A HighLevel location, with a Private Integration Token or OAuth (refresh token, client id and secret)."""

    location_id: str
    token: str | None = None
    refresh_token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    base_url: str | None = None

    @property
    def vendor(self) -> str:
        return "highlevel"

    def settings(self) -> VendorSettings:
        return VendorSettings(name="highlevel", base_url=self.base_url or self.base_url_or(LIVE_URLS["highlevel"]),
                              account=self.location_id, secret=self.token, refresh_token=self.refresh_token,
                              client_id=self.client_id, client_secret=self.client_secret, token_file=token_file(),
                              **self.tuning())


class LiveKombo(VendorTarget):
    integration_id: str
    api_key: str
    base_url: str | None = None
    poll_deadline: float | None = None  # seconds a step waits for one bulk task (default 300; KOMBO_POLL_DEADLINE)

    @property
    def vendor(self) -> str:
        return "kombo"

    def settings(self) -> VendorSettings:
        tuning = self.tuning()
        if self.poll_deadline is not None:
            tuning["options"]["deadline"] = self.poll_deadline
        return VendorSettings(name="kombo", base_url=self.base_url or self.base_url_or(LIVE_URLS["kombo"]),
                              account=self.integration_id, secret=self.api_key, **tuning)


class LiveStackOne(VendorTarget):
    account_id: str
    api_key: str
    base_url: str | None = None
    batch_path: str | None = None  # where the course batch endpoint moved to, if it did
    custom_fields: str | None = None  # the project's custom unified fields, comma-separated

    @property
    def vendor(self) -> str:
        return "stackone"

    def settings(self) -> VendorSettings:
        tuning = self.tuning()
        if self.batch_path:
            tuning["options"]["batch_path"] = self.batch_path
        if self.custom_fields is not None:
            tuning["options"]["custom_fields"] = self.custom_fields
        return VendorSettings(name="stackone", base_url=self.base_url or self.base_url_or(LIVE_URLS["stackone"]),
                              account=self.account_id, secret=self.api_key, **tuning)


class LiveThoughtIndustries(VendorTarget):
    """A Thought Industries instance: https://<domain>.thoughtindustries.com (its host is the account)."""

    api_key: str
    base_url: str | None = None
    account: str | None = None  # a label for the instance in the ledger (unset: its host)
    dialect: str | None = None  # single | bulk (unset: THOUGHT_INDUSTRIES_DIALECT, else single)

    @property
    def vendor(self) -> str:
        return "thought_industries"

    def settings(self) -> VendorSettings:
        url = self.base_url or self.base_url_or(None)
        return VendorSettings(name="thought_industries", base_url=url,
                              account=self.account or urlparse(url).hostname or url,
                              secret=self.api_key, **self.tuning())


def live_target(destination: Destination, highlevel_auth: str = "token") -> VendorTarget:
    """A destination's live account: its secrets and account id are EnvVar (only the variables' names are
    stored), its tuning the destination's own. HighLevel authenticates with a Private Integration Token or,
    with highlevel_auth="oauth", with a refresh token, client id and client secret."""
    d = destination
    tuning = {**d.tuning(), "destination": d.name}
    base_url = dg.EnvVar(d.base_url_env) if d.base_url_env else d.base_url
    account = dg.EnvVar(d.account_variable()) if d.account_variable() else d.account
    if account is None and d.vendor != "thought_industries":
        raise ConfigError(f"destination {d.label}: give its account ({ACCOUNT_WORD[d.vendor]}), or account_env "
                          "naming the variable that holds it")

    def secret(name: str):
        return dg.EnvVar(d.secret_env(name))

    if d.vendor == "highlevel":
        if highlevel_auth == "oauth":
            credentials = {"refresh_token": secret("refresh_token"), "client_id": secret("client_id"),
                           "client_secret": secret("client_secret")}
        elif highlevel_auth == "token":
            credentials = {"token": secret("token")}
        else:
            raise ValueError(f"HIGHLEVEL_AUTH must be token or oauth, not {highlevel_auth!r}")
        return LiveHighLevel(location_id=account, base_url=base_url, **credentials, **tuning)
    if d.vendor == "kombo":
        return LiveKombo(integration_id=account, api_key=secret("api_key"), base_url=base_url, **tuning)
    if d.vendor == "stackone":
        return LiveStackOne(account_id=account, api_key=secret("api_key"), base_url=base_url, **tuning)
    return LiveThoughtIndustries(api_key=secret("api_key"), base_url=base_url, account=account, **tuning)


def live_targets(destinations: Destinations, highlevel_auth: str = "token") -> dict[str, VendorTarget]:
    """Every destination's live account, by its resource key (the vendor's name for its default account)."""
    return {d.key: live_target(d, highlevel_auth) for d in destinations.all}
