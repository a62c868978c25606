"""Destinations: the vendor accounts catalogs are published to (an agency's HighLevel locations, several
Thought Industries instances, several Kombo integrations or StackOne accounts).

A destinations file names accounts per vendor, each with its account id, base URL, the NAMES of the
environment variables holding its secrets (never the secrets), its limits, and the sources it receives
(all by default):

    destinations:
      highlevel:
        - name: north                       # letters, digits and single underscores
          account: loc_8aK2                 # or account_env: NORTH_LOCATION_ID
          secrets: {token: HIGHLEVEL_NORTH_TOKEN}
          rate_limit: 100/10
          sources: [northwind_academy]

A vendor the file does not list keeps its one default destination, configured by today's single-account
environment variables (HIGHLEVEL_LOCATION_ID, HIGHLEVEL_TOKEN, ...), so a setup without a file needs no
change; an entry named `default` is that same account, with whatever the entry adds. No Dagster here:
defs/ turns each destination into a resource, a sync asset and a pool."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from .catalog.errors import ConfigError
from .vendors import VENDOR_NAMES

DESTINATIONS_ENV = "COURSE_PIPELINE_DESTINATIONS"
FILE_NAME = "destinations.yaml"
DEFAULT = "default"
# Part of asset keys, resource keys and pool names, which join vendor and name with "__".
Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(_[a-z0-9]+)*$", max_length=40)]
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
# What each vendor's secrets are called, and the variables today's single account reads them from.
SECRETS = {
    "highlevel": {"token": "HIGHLEVEL_TOKEN", "refresh_token": "HIGHLEVEL_REFRESH_TOKEN",
                  "client_id": "HIGHLEVEL_CLIENT_ID", "client_secret": "HIGHLEVEL_CLIENT_SECRET"},
    "kombo": {"api_key": "KOMBO_API_KEY"},
    "stackone": {"api_key": "STACKONE_API_KEY"},
    "thought_industries": {"api_key": "THOUGHT_INDUSTRIES_API_KEY"},
}
# The variable holding the default account's id (Thought Industries: the instance's URL is its account).
ACCOUNT_ENV = {"highlevel": "HIGHLEVEL_LOCATION_ID", "kombo": "KOMBO_INTEGRATION_ID",
               "stackone": "STACKONE_ACCOUNT_ID", "thought_industries": None}


class Destination(BaseModel):
    """One account of one vendor."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vendor: str
    name: Name = DEFAULT
    # HighLevel: the location id; Kombo: the integration id; StackOne: the account id; Thought Industries:
    # a label for the instance (default: its host). Not a secret, so it may be written here, or named by
    # account_env.
    account: str | None = None
    account_env: str | None = None
    base_url: str | None = None
    base_url_env: str | None = None
    secrets: dict[str, str] = Field(default_factory=dict)  # secret -> the NAME of its environment variable
    rate_limit: str | None = None  # "100/10": requests per seconds (default: the vendor's documented limit)
    hourly_limit: str | None = None  # a second window, e.g. Thought Industries' "1000/3600"
    batch_size: int | None = Field(default=None, gt=0)
    workers: int | None = Field(default=None, gt=0)
    sources: list[str] | None = None  # the sources it receives (None: every source)

    @field_validator("account_env", "base_url_env")
    @classmethod
    def _is_variable_name(cls, value: str | None) -> str | None:
        if value is not None and not ENV_NAME.match(value):
            raise ValueError(f"{value!r} is not an environment variable's name (A-Z, 0-9, _)")
        return value

    @field_validator("secrets")
    @classmethod
    def _names_not_secrets(cls, value: dict[str, str]) -> dict[str, str]:
        for key, variable in value.items():
            if not ENV_NAME.match(variable):
                # Never echo the value: it may be the secret itself, pasted where its variable's name belongs.
                raise ValueError(f"secrets.{key} must be the NAME of the environment variable that holds it "
                                 "(A-Z, 0-9, _), not the secret itself")
        return value

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT

    @property
    def key(self) -> str:
        """The destination in Dagster names: the vendor for the default account, else vendor__name."""
        return self.vendor if self.is_default else f"{self.vendor}__{self.name}"

    @property
    def label(self) -> str:
        return self.vendor if self.is_default else f"{self.vendor} {self.name}"

    def tuning(self) -> dict:
        """The pace and sizes this entry sets (the rest stay the vendor's defaults)."""
        return {key: getattr(self, key) for key in ("rate_limit", "hourly_limit", "batch_size", "workers")
                if getattr(self, key) is not None}

    def receives(self, source: str) -> bool:
        return self.sources is None or source in self.sources

    def secret_env(self, secret: str) -> str:
        """The variable holding this secret: the entry's, else (the default account) today's variable."""
        variable = self.secrets.get(secret) or (SECRETS[self.vendor][secret] if self.is_default else None)
        if variable is None:
            raise ConfigError(f"destination {self.label}: name the environment variable of its {secret} "
                              f"(secrets: {{{secret}: SOME_VARIABLE}})")
        return variable

    def variables(self, highlevel_auth: str = "token") -> list[str]:
        """The environment variables a live sync to this account reads: its secrets, account id and URL."""
        needed = (["token"] if highlevel_auth == "token" else ["refresh_token", "client_id", "client_secret"]) \
            if self.vendor == "highlevel" else ["api_key"]
        url = self.base_url_env or ("THOUGHT_INDUSTRIES_BASE_URL" if self.is_default and self.vendor ==
                                    "thought_industries" and not self.base_url else None)
        return [self.secret_env(name) for name in needed] + [v for v in (self.account_variable(), url) if v]

    def account_variable(self) -> str | None:
        return self.account_env or (ACCOUNT_ENV[self.vendor] if self.is_default and not self.account else None)


@dataclass(frozen=True)
class Destinations:
    """Every destination of the enabled vendors, in file order, the default ones where a vendor has no entry."""

    all: tuple[Destination, ...]
    path: Path | None = None

    def of(self, vendor: str) -> list[Destination]:
        return [d for d in self.all if d.vendor == vendor]

    def receiving(self, source: str) -> list[Destination]:
        return [d for d in self.all if d.receives(source)]

    def get(self, vendor: str, name: str | None = None) -> Destination:
        """One destination of a vendor: by name, or its only one (else a ConfigError listing the names)."""
        found = self.of(vendor)
        if name is None and len(found) == 1:
            return found[0]
        for destination in found:
            if destination.name == (name or DEFAULT):
                return destination
        names = ", ".join(d.name for d in found) or "none"
        raise ConfigError(f"{vendor} has no destination {name or DEFAULT!r} (its destinations: {names}"
                          f"{'; name one with --destination' if name is None else ''})")


def destinations_file(sources_file: str | Path | None) -> Path | None:
    """COURSE_PIPELINE_DESTINATIONS, else destinations.yaml beside the sources file; None: there is none."""
    explicit = os.environ.get(DESTINATIONS_ENV)
    if explicit:
        path = Path(explicit).expanduser().resolve()
        if not path.is_file():
            raise ConfigError(f"{DESTINATIONS_ENV} names {path}, which is not a file")
        return path
    if sources_file is None:
        return None
    beside = Path(sources_file).resolve().parent / FILE_NAME
    return beside if beside.is_file() else None


def default_destinations(vendors: list[str]) -> Destinations:
    return Destinations(tuple(Destination(vendor=v) for v in vendors))


def read_destinations(path: str | Path | None, vendors: list[str] = VENDOR_NAMES,
                      source_names: list[str] | None = None) -> Destinations:
    """The destinations of these vendors. path None: each vendor's default account. source_names, when
    given, are checked against each entry's `sources` (a name that is no source is a typo that would send
    nothing to the account, so it is an error)."""
    if path is None:
        return default_destinations(list(vendors))
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot be read as YAML: {exc}") from None
    if not isinstance(document, dict) or set(document) - {"destinations"}:
        raise ConfigError(f"{path}: expected one key, `destinations`, mapping each vendor to a list of accounts")
    listed = document.get("destinations") or {}
    if not isinstance(listed, dict):
        raise ConfigError(f"{path}: `destinations` must map each vendor to a list of accounts")
    unknown = sorted(set(listed) - set(VENDOR_NAMES))
    if unknown:
        raise ConfigError(f"{path}: unknown vendor(s) {', '.join(unknown)}; vendors are: {', '.join(VENDOR_NAMES)}")
    found: list[Destination] = []
    for vendor in vendors:
        entries = listed.get(vendor)
        if entries is None:
            found.append(Destination(vendor=vendor))
            continue
        if not isinstance(entries, list) or not entries:
            raise ConfigError(f"{path}: destinations.{vendor} must be a list of accounts")
        names: set[str] = set()
        for index, entry in enumerate(entries):
            where = f"{path}: destinations.{vendor}[{index}]"
            if not isinstance(entry, dict):
                raise ConfigError(f"{where}: expected a mapping with at least a name")
            try:
                destination = Destination(vendor=vendor, **entry)
            except ValidationError as exc:
                problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'entry'}: {e['msg']}"
                                     for e in exc.errors())
                raise ConfigError(f"{where}: {problems}") from None
            except TypeError as exc:
                raise ConfigError(f"{where}: {exc}") from None
            if destination.name in names:
                raise ConfigError(f"{where}: the name {destination.name!r} is given twice; names are unique per vendor")
            names.add(destination.name)
            unknown_secrets = sorted(set(destination.secrets) - set(SECRETS[vendor]))
            if unknown_secrets:
                raise ConfigError(f"{where}: {vendor} has no secret {', '.join(unknown_secrets)} "
                                  f"(its secrets: {', '.join(SECRETS[vendor])})")
            if source_names is not None and destination.sources is not None:
                missing = sorted(set(destination.sources) - set(source_names))
                if missing:
                    raise ConfigError(f"{where}: sources {', '.join(missing)} are not in the sources file "
                                      f"(its sources: {', '.join(source_names) or 'none'})")
            found.append(destination)
    accounts = [(d.vendor, d.account) for d in found if d.account]
    twice = sorted({f"{v} {a}" for v, a in accounts if accounts.count((v, a)) > 1})
    if twice:  # two destinations on one account would each plan against the other's ledger rows
        raise ConfigError(f"{path}: account(s) given to more than one destination: {', '.join(twice)}")
    return Destinations(tuple(found), path)
