"""One vendor's accounts: each request goes to the account it names, each account with its own state and limits.

The vendors limit per account (HighLevel per app per location, vendor-contracts.md §1; Kombo per integration,
§2; Thought Industries per instance, each its own site, §4), so one account's traffic never throttles another.
An account is a ``SimulatedVendor`` of its own; the default one and those named in ``SandboxConfig.accounts``
exist from the start, any other known one (``is_known``) from its first request. A request that names no
account goes to the default one, as before there were more; one that names an account the sandbox does not
have goes to an account of its own, the stranger, without limits (every answer of it is a refusal: its
handlers own no account a request can name), shown in the state as UNKNOWN once it has had a request.
Faults are the vendor's, shared by its accounts (``POST /_sandbox/faults`` sets them per vendor, as before),
so the seeded draws follow the vendor's request order as they always did.
"""

from __future__ import annotations

import threading
from typing import Any

from .config import SandboxConfig
from .core import SimulatedVendor
from .faults import FaultInjector, Receive, Send

UNKNOWN = "(unknown)"
# The stranger's own account id: what no request can name, as each vendor reads an empty name as none.
_STRANGER = ""


class VendorAccounts:
    """The ASGI app of one vendor: finds the request's account (a dict look-up) and hands the request to it."""

    def __init__(self, vendor_class: type[SimulatedVendor], config: SandboxConfig) -> None:
        self.vendor_class, self.config = vendor_class, config
        self.name, self.prefix = vendor_class.name, vendor_class.prefix
        self.faults = FaultInjector(config.faults_for(self.name))
        # Taken only to add or replace accounts, never across an await: a request reads the dict without it.
        self._lock = threading.Lock()
        self._accounts, self._stranger = self._start()

    def _start(self) -> tuple[dict[str, SimulatedVendor], SimulatedVendor]:
        names = dict.fromkeys([self.vendor_class.default_account, *self.config.accounts_of(self.name)])
        stranger = self.vendor_class(self.config, _STRANGER, self.faults)
        stranger.limits = []  # no account to protect, and a refusal must not read as a 429 of someone's
        return {name: self.vendor_class(self.config, name, self.faults) for name in names}, stranger

    def account(self, name: str | None = None) -> SimulatedVendor:
        """The account `name` (None: the default), opened if it is known and new; the stranger if unknown."""
        if name is None:
            return self._accounts[self.vendor_class.default_account]
        found = self._accounts.get(name)
        if found is not None:
            return found
        if not self.vendor_class.is_known(name, self.config):
            return self._stranger
        with self._lock:
            if name not in self._accounts:
                self._accounts[name] = self.vendor_class(self.config, name, self.faults)
            return self._accounts[name]

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        await self.account(self.vendor_class.account_of(scope))(scope, receive, send)

    def reset(self) -> None:
        """Back to the start: the start's accounts only, each empty with fresh limits; the start's faults."""
        with self._lock:
            self._accounts, self._stranger = self._start()
        self.faults.configure(self.config.faults_for(self.name))

    def snapshot(self) -> dict[str, Any]:
        """The vendor's state as before accounts (each key the sum over its accounts), the faults, and
        ``accounts``: per account its course count, counters, other vendor state and limits with their peaks."""
        with self._lock:
            accounts = dict(self._accounts)
            if self._stranger.store.requests:
                accounts[UNKNOWN] = self._stranger
        held = {name: account.snapshot() for name, account in accounts.items()}
        return {
            **_total(list(held.values())),
            "faults": self.faults.config.to_dict(),
            "accounts": {name: _account_view(held[name], account) for name, account in accounts.items()},
        }


def _account_view(snapshot: dict[str, Any], account: SimulatedVendor) -> dict[str, Any]:
    # The courses as a count: 100 accounts x 500 courses are listed once, at the vendor's level. What was
    # created per key (title or external id) stays, so a test can tell which courses an account holds.
    rest = {key: value for key, value in snapshot.items() if key not in ("courses", "counters")}
    return {"courses": len(snapshot["courses"]), **snapshot["counters"], **rest,
            "first_request_at": account.store.first_request_at, "last_request_at": account.store.last_request_at,
            "limits": [limit.describe() for limit in account.limits]}


def _total(parts: list[Any]) -> Any:
    """Snapshots of accounts added up: lists joined, numbers summed, dicts key by key."""
    first = parts[0]
    if isinstance(first, dict):
        keys = dict.fromkeys(key for part in parts for key in part)
        return {key: _total([part[key] for part in parts if key in part]) for key in keys}
    if isinstance(first, list):
        return [item for part in parts for item in part]
    return sum(parts)
