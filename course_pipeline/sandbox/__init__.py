"""Local stand-ins for the four course-platform APIs, strict like the real ones.

One ASGI app serves HighLevel, Kombo, StackOne and Thought Industries under their own path
prefixes on one loopback port, so a client's base URL is the only thing that differs from
production. ``GET /_sandbox/state`` shows what each vendor holds, ``POST /_sandbox/reset``
empties it, ``POST /_sandbox/faults`` injects 500s, 429s, connection resets, slow answers
and latency.
"""

from .app import create_app
from .config import SANDBOX_TOKENS, SIMULATED_VENDORS, FaultConfig, SandboxConfig
from .server import SandboxServer, base_urls, serve

__all__ = [
    "SANDBOX_TOKENS",
    "SIMULATED_VENDORS",
    "FaultConfig",
    "SandboxConfig",
    "SandboxServer",
    "base_urls",
    "create_app",
    "serve",
]


def sandbox_account(url, vendor, account=None):  # TEMPORARY stand-in until the sandbox-accounts branch lands
    creds = {"highlevel": ("highlevel_token", "highlevel_location_id"), "kombo": ("kombo_api_key", "kombo_integration_id"),
             "stackone": ("stackone_api_key", "stackone_account_id"), "thought_industries": ("thought_industries_api_key", None)}
    secret, acct = creds[vendor]
    return {"base_url": base_urls(url)[vendor], "account": SANDBOX_TOKENS[acct] if acct else "sandbox.thoughtindustries.local",
            "secret": SANDBOX_TOKENS[secret]}
