"""Settings of the vendor sandbox and the fake credentials it accepts.

Every default is the vendor's documented behaviour (or the default named in
vendor-contracts.md where the vendor documents nothing): no faults, no latency.
Tests shrink limits and windows so they stay fast.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

SIMULATED_VENDORS = ("highlevel", "kombo", "stackone", "thought_industries")

# Fake values, safe to print: they only open the local sandbox.
SANDBOX_TOKENS: dict[str, str] = {
    "highlevel_token": "sandbox-highlevel-token",
    "highlevel_location_id": "sandbox-location-1",
    "highlevel_client_id": "sandbox-highlevel-client",
    "highlevel_client_secret": "sandbox-highlevel-secret",
    "highlevel_refresh_token": "sandbox-highlevel-refresh-0",
    "kombo_api_key": "sandbox-kombo-key",
    "kombo_integration_id": "sandbox:kombo-integration-1",
    "stackone_api_key": "sandbox-stackone-key",
    "stackone_account_id": "sandbox-stackone-account-1",
    "thought_industries_api_key": "sandbox-thought-industries-key",
}

# Further accounts besides the default one (the values above). A HighLevel token opens one location, as a
# location's Private Integration Token does (vendor-contracts.md §1: "Private Integration Token of a
# sub-account/location"): "<highlevel_token>:<location>" opens <location>.
HIGHLEVEL_LOCATION_TOKEN_PREFIX = SANDBOX_TOKENS["highlevel_token"] + ":"
# Thought Industries: an instance is its own site (https://<domain>.thoughtindustries.com, vendor-contracts.md
# §4); in the sandbox, /ti/<instance> stands for it, and the default instance is this one, also at
# /thoughtindustries. Its label is the account a client names: "<instance>.thoughtindustries.local".
THOUGHT_INDUSTRIES_DEFAULT_INSTANCE = "sandbox"
THOUGHT_INDUSTRIES_INSTANCE_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")  # one DNS label

# What an account of SandboxConfig.accounts may set: the vendor's limit fields, named without the vendor
# prefix (SandboxConfig.<vendor>_<field> is the default of every account).
ACCOUNT_FIELDS: dict[str, tuple[str, ...]] = {
    "highlevel": ("rate_limit", "rate_window", "daily_limit"),
    "kombo": ("concurrency_limit", "rate_limit", "rate_window"),
    "stackone": ("rate_limit", "rate_window"),
    "thought_industries": ("rate_limit", "rate_window", "hourly_limit", "hourly_window", "concurrency_limit"),
}


SCRIPT_STEPS = ("none", "500", "429", "reset", "slow")


@dataclass(frozen=True)
class FaultConfig:
    """Injected faults for one vendor. The four rates are shares of requests and add up to at most 1."""

    error_500_rate: float = 0.0
    error_429_rate: float = 0.0
    reset_rate: float = 0.0  # connection reset after the request was processed
    slow_rate: float = 0.0  # answer delayed by slow_seconds (past a client's timeout)
    slow_seconds: float = 30.0
    # Share of slow answers whose request is processed before the delay; the others are processed
    # after it, and only if the client is still waiting (a timeout "may or may not have processed it").
    slow_processed_rate: float = 0.5
    latency_ms: float = 0.0  # added to every answer of the vendor
    # Kombo: share of new bulk tasks that end FAILED as a whole (no item processed), drawn per task.
    task_failed_rate: float = 0.0
    seed: int | None = 0  # same seed and same request order: same faults
    # The faults of the next requests, in order, before the rates apply ("none": answered normally),
    # for a test that needs one exact sequence, e.g. ("reset", "429"): processed and cut off, then throttled.
    script: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("error_500_rate", "error_429_rate", "reset_rate", "slow_rate", "slow_processed_rate",
                     "task_failed_rate"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a number between 0 and 1, got {value!r}")
        if self.error_500_rate + self.error_429_rate + self.reset_rate + self.slow_rate > 1.0 + 1e-9:
            raise ValueError("error_500_rate + error_429_rate + reset_rate + slow_rate must not exceed 1")
        for name in ("slow_seconds", "latency_ms"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")
        if self.seed is not None and (not isinstance(self.seed, int) or isinstance(self.seed, bool)):
            raise ValueError(f"seed must be an integer or null, got {self.seed!r}")
        if isinstance(self.script, str) or not all(step in SCRIPT_STEPS for step in self.script):
            raise ValueError(f"script must be a list of {', '.join(SCRIPT_STEPS)}, got {self.script!r}")
        object.__setattr__(self, "script", tuple(self.script))  # JSON gives a list

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> FaultConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(unknown)}")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "script": list(self.script)}


@dataclass
class SandboxConfig:
    """Limits, timings and faults of the four simulated vendors."""

    # HighLevel: burst 100 / 10 s and 200,000 / day; OAuth access tokens live about a day.
    highlevel_rate_limit: int = 100
    highlevel_rate_window: float = 10.0
    highlevel_daily_limit: int = 200_000
    highlevel_token_lifetime: float = 86_399.0
    highlevel_max_products: int = 50  # not documented by HighLevel: see the rules table in sandbox/highlevel.py
    # A test switch, not a HighLevel rule: products with these titles are refused (422), standing for
    # whatever HighLevel refuses that the sandbox does not model.
    highlevel_refused_titles: tuple[str, ...] = ()
    # Kombo: at most 30 requests in flight per integration; bulk tasks run asynchronously.
    kombo_concurrency_limit: int = 30
    kombo_rate_limit: int | None = None  # Kombo documents no request-rate number: off by default
    kombo_rate_window: float = 1.0
    kombo_pending_seconds: float = 1.0
    kombo_max_batch: int = 100
    # False: the LMS behind the integration cannot update a course (each update of one fails with
    # LMS.COURSE_UPDATE_NOT_SUPPORTED; creates and deactivations still work).
    kombo_updates_supported: bool = True
    # StackOne: default 10 requests / s, batches of 100.
    stackone_rate_limit: int = 10
    stackone_rate_window: float = 1.0
    stackone_max_batch: int = 100
    # The project's custom unified fields: None accepts any key (a sandbox not told the project's
    # configuration); a tuple refuses the others in the item's errors[i].
    stackone_custom_fields: tuple[str, ...] | None = None
    # 202 is "accepted", not processed: batch items land this long after the answer (on the clock).
    stackone_processing_seconds: float = 0.0
    # What the course batch path answers instead of 202, e.g. 404 or 410 once StackOne retires it.
    stackone_course_batch_status: int | None = None
    # Thought Industries (course management): 60 requests / minute, 1,000 / hour and 5 in flight (the
    # sandbox module's table cites each); custom fields defined in the instance (any other
    # customFields key is silently dropped, as the vendor does); bulk creates of 100 at most.
    thought_industries_rate_limit: int = 60
    thought_industries_rate_window: float = 60.0
    thought_industries_hourly_limit: int | None = 1000
    thought_industries_hourly_window: float = 3600.0
    thought_industries_concurrency_limit: int | None = 5
    thought_industries_max_batch: int = 100
    thought_industries_custom_fields: tuple[str, ...] = ()
    faults: dict[str, FaultConfig] = field(default_factory=dict)
    # Accounts with limits of their own, keyed "<vendor>/<account>" (a HighLevel location, a Kombo integration,
    # a StackOne account, a Thought Industries instance), each overriding some of ACCOUNT_FIELDS[vendor],
    # e.g. {"highlevel/loc-2": {"rate_limit": 50}}. Every other account has the vendor's fields above.
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Seconds since the epoch: what rate windows, token expiry and Kombo's task times read. Tests give a
    # clock they move themselves, so nothing sleeps to let time pass.
    clock: Callable[[], float] = field(default=time.time, repr=False, compare=False)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.faults) - set(SIMULATED_VENDORS))
        if unknown:
            raise ValueError(f"faults for unknown vendors: {', '.join(unknown)}; known: {', '.join(SIMULATED_VENDORS)}")
        # Accept plain dicts for convenience (CLI, JSON).
        self.faults = {
            vendor: spec if isinstance(spec, FaultConfig) else FaultConfig.from_dict(spec)
            for vendor, spec in self.faults.items()
        }
        self.accounts = {key: self._checked_account(key, values) for key, values in self.accounts.items()}

    def _checked_account(self, key: str, values: Any) -> dict[str, Any]:
        vendor, _, account = key.partition("/")
        if vendor not in SIMULATED_VENDORS:
            raise ValueError(f"accounts: unknown vendor {vendor!r} in {key!r}; known: {', '.join(SIMULATED_VENDORS)}")
        if not account:
            raise ValueError(f"accounts: {key!r} names no account; expected \"<vendor>/<account>\"")
        if vendor == "thought_industries" and not THOUGHT_INDUSTRIES_INSTANCE_PATTERN.match(account):
            raise ValueError(f"accounts: {key!r}: an instance name is one DNS label (a-z, 0-9, -)")
        if not isinstance(values, dict):
            raise ValueError(f"accounts: {key!r} must map to {{field: value}}, got {values!r}")
        unknown = sorted(set(values) - set(ACCOUNT_FIELDS[vendor]))
        if unknown:
            raise ValueError(f"accounts: unknown field {', '.join(unknown)} for {vendor} in {key!r}; "
                             f"known: {', '.join(ACCOUNT_FIELDS[vendor])}")
        for name, value in values.items():
            default = getattr(self, f"{vendor}_{name}")
            if name.endswith("window"):
                valid = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
                wanted = "a number > 0"
            else:  # a limit: off (None) only where the vendor-level default may be off
                nullable = "None" in str(next(f.type for f in fields(self) if f.name == f"{vendor}_{name}"))
                valid = (value is None and nullable) or (isinstance(value, int) and not isinstance(value, bool)
                                                         and value >= 1)
                wanted = "an integer >= 1" + (" or null" if nullable else "")
            if not valid:
                raise ValueError(f"accounts: {key!r}: {name} must be {wanted}, got {value!r} (default {default!r})")
        return dict(values)

    def faults_for(self, vendor: str) -> FaultConfig:
        return self.faults.get(vendor, FaultConfig())

    def accounts_of(self, vendor: str) -> list[str]:
        """The accounts of `vendor` named in `accounts`, in their order."""
        return [key.partition("/")[2] for key in self.accounts if key.partition("/")[0] == vendor]

    def limits_for(self, vendor: str, account: str) -> dict[str, Any]:
        """The limit fields of one account: its overrides, else the vendor's."""
        overrides = self.accounts.get(f"{vendor}/{account}", {})
        return {name: overrides.get(name, getattr(self, f"{vendor}_{name}")) for name in ACCOUNT_FIELDS[vendor]}
