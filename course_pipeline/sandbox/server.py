"""Running the sandbox: in a background thread (tests, demos) or in the foreground (CLI)."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from typing import Any

import uvicorn

from .app import VENDOR_CLASSES, create_app
from .config import (
    HIGHLEVEL_LOCATION_TOKEN_PREFIX,
    SANDBOX_TOKENS,
    THOUGHT_INDUSTRIES_INSTANCE_PATTERN,
    SandboxConfig,
)
from .thoughtindustries import THOUGHT_INDUSTRIES_INSTANCES

_SECRETS = {"highlevel": "highlevel_token", "kombo": "kombo_api_key", "stackone": "stackone_api_key",
            "thought_industries": "thought_industries_api_key"}


def base_urls(url: str) -> dict[str, str]:
    """Vendor name -> base URL a client uses in place of the production one."""
    return {cls.name: url + cls.prefix for cls in VENDOR_CLASSES}


def sandbox_account(url: str, vendor: str, account: str | None = None) -> dict[str, str]:
    """What a client needs to reach one account of `vendor` in the sandbox at `url` (e.g. http://127.0.0.1:8787).

    Answers ``{"base_url": ..., "account": ..., "secret": ...}``: the base URL in place of the production
    one, the account id the client sends, and its credential. ``account=None`` (or the default's own id) is
    the default account, exactly as before accounts: ``base_urls(url)[vendor]``, the ``SANDBOX_TOKENS``
    account and secret, and for Thought Industries the account ``sandbox.thoughtindustries.local``.

    - highlevel: `account` is a location id; the secret is that location's token,
      ``sandbox-highlevel-token:<location>`` (the body's ``locationId`` must be the location).
    - kombo: `account` is the ``X-Integration-Id``; the secret is the one API key. The sandbox knows the
      default, the integrations in its ``SandboxConfig.accounts`` and any ``sandbox:<name>``; others are 404.
    - stackone: `account` is the ``x-account-id``; the secret is the one API key (Basic auth user). Known:
      the default, those in ``SandboxConfig.accounts`` and any ``sandbox-<name>``; others are 404.
    - thought_industries: `account` is the instance name (one DNS label, e.g. ``acme``); the base URL is
      ``<url>/ti/<instance>``, the account its label ``<instance>.thoughtindustries.local`` and the secret the
      one API key.

    A ValueError for an unknown vendor or an instance name that is no DNS label.
    """
    if vendor not in _SECRETS:
        raise ValueError(f"unknown vendor {vendor!r}; known: {', '.join(_SECRETS)}")
    url = url.rstrip("/")
    default = next(cls for cls in VENDOR_CLASSES if cls.name == vendor).default_account
    account = default if account is None else account
    secret = SANDBOX_TOKENS[_SECRETS[vendor]]
    base_url = base_urls(url)[vendor]
    if vendor == "highlevel" and account != default:
        secret = HIGHLEVEL_LOCATION_TOKEN_PREFIX + account
    if vendor == "thought_industries":
        if not THOUGHT_INDUSTRIES_INSTANCE_PATTERN.match(account):
            raise ValueError(f"{account!r} is no Thought Industries instance name (one DNS label: a-z, 0-9, -)")
        if account != default:
            base_url = f"{url}{THOUGHT_INDUSTRIES_INSTANCES}/{account}"
        account = f"{account}.thoughtindustries.local"
    return {"base_url": base_url, "account": account, "secret": secret}


class SandboxServer:
    """The sandbox on a loopback port, served by uvicorn in a background thread.

    ``port=0`` binds a free port (the socket is bound here, so the port is known before the
    server starts and no other process can take it in between).
    """

    def __init__(self, config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config or SandboxConfig()
        self.host, self.port = host, port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_urls(self) -> dict[str, str]:
        return base_urls(self.url)

    def account(self, vendor: str, account: str | None = None) -> dict[str, str]:
        """``sandbox_account`` for this server."""
        return sandbox_account(self.url, vendor, account)

    def start(self, timeout: float = 10.0) -> SandboxServer:
        if self._thread is not None:
            raise RuntimeError("the sandbox server is running already")
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((self.host, self.port))
        self.port = self._socket.getsockname()[1]
        # log_config=None: an embedded server leaves the host's logging configuration alone. uvicorn's own
        # keep-alive timeout (5 s, as gunicorn's and Node's) stays: a client must not reuse a connection the
        # vendor is closing (transport.MAX_IDLE_REUSE).
        config = uvicorn.Config(create_app(self.config), log_config=None, log_level="warning", access_log=False,
                                lifespan="off", timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name=f"sandbox-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the sandbox did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise RuntimeError("the sandbox server thread did not stop")
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # Controls, over HTTP like any client.

    def state(self) -> dict[str, Any]:
        return self._call("GET", "/_sandbox/state")

    def reset(self) -> None:
        self._call("POST", "/_sandbox/reset")

    def set_faults(self, vendor: str, **faults: Any) -> dict[str, Any]:
        """Replace one vendor's faults (settings not named take their defaults); answers all vendors' faults."""
        return self._call("POST", "/_sandbox/faults", {vendor: faults})

    def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())


def describe(url: str) -> str:
    """The lines ``serve`` prints: where each vendor lives and which credentials it accepts."""
    lines = [f"Vendor sandbox at {url}", "Base URLs:"]
    lines += [f"  {name:<20} {base}" for name, base in base_urls(url).items()]
    lines += ["Accepted credentials (sandbox only):"]
    lines += [f"  {name:<28} {value}" for name, value in SANDBOX_TOKENS.items()]
    lines += ["More accounts: HighLevel token sandbox-highlevel-token:<location>; Kombo X-Integration-Id "
              "sandbox:<name>; StackOne x-account-id sandbox-<name>; Thought Industries "
              f"{url}{THOUGHT_INDUSTRIES_INSTANCES}/<instance>"]
    lines += [f"Inspect: GET {url}/_sandbox/state   Reset: POST {url}/_sandbox/reset   "
              f"Faults: POST {url}/_sandbox/faults"]
    return "\n".join(lines)


def serve(host: str = "127.0.0.1", port: int = 8787, config: SandboxConfig | None = None,
          access_log: bool = True) -> None:
    """Run the sandbox in the foreground until interrupted, after printing its base URLs and tokens."""
    print(describe(f"http://{host}:{port}"), flush=True)
    uvicorn.run(create_app(config), host=host, port=port, log_level="info", timeout_graceful_shutdown=1,
                access_log=access_log)
