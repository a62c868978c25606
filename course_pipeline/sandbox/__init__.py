"""Local stand-ins for the four course-platform APIs, strict like the real ones.

One ASGI app serves HighLevel, Kombo, StackOne and Thought Industries under their own path
prefixes on one loopback port, so a client's base URL is the only thing that differs from
production. ``GET /_sandbox/state`` shows what each vendor holds, ``POST /_sandbox/reset``
empties it, ``POST /_sandbox/faults`` injects 500s, 429s, connection resets, slow answers
and latency.

Each vendor serves many accounts (HighLevel locations, Kombo integrations, StackOne accounts, Thought
Industries instances), each with its own courses, counters and limits; ``sandbox_account`` gives what a
client needs for one, and ``SandboxConfig.accounts`` sets the limits of some.
"""

from .app import create_app
from .config import SANDBOX_TOKENS, SIMULATED_VENDORS, FaultConfig, SandboxConfig
from .server import SandboxServer, base_urls, sandbox_account, serve

__all__ = [
    "SANDBOX_TOKENS",
    "SIMULATED_VENDORS",
    "FaultConfig",
    "SandboxConfig",
    "SandboxServer",
    "base_urls",
    "create_app",
    "sandbox_account",
    "serve",
]
