"""Fixtures: the vendor sandbox on a free loopback port, and clients bound to each vendor."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from course_pipeline.sandbox import SANDBOX_TOKENS, SandboxConfig, SandboxServer

# Short enough to keep the Kombo tests fast, long enough to see a task PENDING first.
PENDING_SECONDS = 0.3

VENDOR_CREDENTIALS: dict[str, dict[str, Any]] = {
    "highlevel": {"headers": {"Authorization": f"Bearer {SANDBOX_TOKENS['highlevel_token']}",
                              "Version": "2021-07-28"}},
    "kombo": {"headers": {"Authorization": f"Bearer {SANDBOX_TOKENS['kombo_api_key']}",
                          "X-Integration-Id": SANDBOX_TOKENS["kombo_integration_id"]}},
    "stackone": {"headers": {"x-account-id": SANDBOX_TOKENS["stackone_account_id"]},
                 "auth": (SANDBOX_TOKENS["stackone_api_key"], "")},
    "thought_industries": {"headers": {"Authorization": f"Bearer {SANDBOX_TOKENS['thought_industries_api_key']}"}},
}


def _edit(document: Any, path: tuple[Any, ...]) -> tuple[Any, Any, Any]:
    changed = copy.deepcopy(document)
    parent = changed
    for step in path[:-1]:
        parent = parent[step]
    return changed, parent, path[-1]


def without(document: Any, path: tuple[Any, ...]) -> Any:
    """A deep copy of ``document`` with the key or index at ``path`` removed."""
    changed, parent, last = _edit(document, path)
    del parent[last]
    return changed


def replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    """A deep copy of ``document`` with ``value`` at ``path``."""
    changed, parent, last = _edit(document, path)
    parent[last] = value
    return changed


def vendor_state(server: SandboxServer, vendor: str) -> dict[str, Any]:
    return server.state()["vendors"][vendor]


class VendorApi:
    """A requests session on one vendor's base URL with the credentials the sandbox accepts.

    A header given as ``None`` in a call is left out of that request (requests drops it).
    """

    def __init__(self, base_url: str, vendor: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers.update(VENDOR_CREDENTIALS[vendor]["headers"])
        self.session.auth = VENDOR_CREDENTIALS[vendor].get("auth")

    def url(self, path: str) -> str:
        return self.base_url + path

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, self.url(path), **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> VendorApi:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@pytest.fixture(scope="session")
def shared_sandbox() -> Iterator[SandboxServer]:
    """One server for the session, with the documented limits (only Kombo's pending time is short)."""
    with SandboxServer(SandboxConfig(kombo_pending_seconds=PENDING_SECONDS)) as server:
        yield server


@pytest.fixture
def sandbox(shared_sandbox: SandboxServer) -> SandboxServer:
    """The shared server, emptied: no courses, zero counters, fresh rate limits, no faults."""
    shared_sandbox.reset()
    return shared_sandbox


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., SandboxServer]]:
    """Start a server of its own with other settings, e.g. ``make_sandbox(stackone_rate_limit=2)``."""
    with contextlib.ExitStack() as running:
        yield lambda config=None, **settings: running.enter_context(SandboxServer(config or SandboxConfig(**settings)))


@pytest.fixture
def connect() -> Iterator[Callable[[SandboxServer, str], VendorApi]]:
    """``connect(server, vendor)``: a VendorApi on that server, closed after the test."""
    with contextlib.ExitStack() as open_apis:
        yield lambda server, vendor: open_apis.enter_context(VendorApi(server.base_urls[vendor], vendor))


@pytest.fixture
def highlevel(sandbox: SandboxServer, connect: Callable[[SandboxServer, str], VendorApi]) -> VendorApi:
    return connect(sandbox, "highlevel")


@pytest.fixture
def kombo(sandbox: SandboxServer, connect: Callable[[SandboxServer, str], VendorApi]) -> VendorApi:
    return connect(sandbox, "kombo")


@pytest.fixture
def stackone(sandbox: SandboxServer, connect: Callable[[SandboxServer, str], VendorApi]) -> VendorApi:
    return connect(sandbox, "stackone")


@pytest.fixture
def ti(sandbox: SandboxServer, connect: Callable[[SandboxServer, str], VendorApi]) -> VendorApi:
    return connect(sandbox, "thought_industries")
