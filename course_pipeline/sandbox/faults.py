"""Injected faults that behave like the real ones.

- 500 and 429: answered before the request is processed, in the vendor's error shape.
- reset: the request is processed in full (the course exists), then the TCP connection is
  aborted with SO_LINGER 0, so the client sees ``ECONNRESET`` and no answer at all.
- slow: the answer comes ``slow_seconds`` late. Either the request was processed before the
  delay (the course exists even though the client timed out), or the delay comes first and the
  request is processed only if the client is still connected: a timeout may or may not have
  processed it, as with a real overloaded server.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .config import FaultConfig

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[dict[str, Any], Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class Draw:
    fault: str | None  # "500", "429", "reset", "slow" or None
    processed_before_delay: bool  # only meaningful for "slow"


class FaultInjector:
    """Draws the fault of each request from a seeded generator (two draws a request, always), after
    the config's script of faults is used up."""

    def __init__(self, config: FaultConfig) -> None:
        self._lock = threading.Lock()
        self.configure(config)

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self._random = random.Random(config.seed)
            self._script = list(config.script)

    def draw(self) -> Draw:
        with self._lock:
            config, pick, order = self.config, self._random.random(), self._random.random()
            scripted = self._script.pop(0) if self._script else None
        if scripted is not None:
            return Draw(fault=None if scripted == "none" else scripted,
                        processed_before_delay=order < config.slow_processed_rate)
        fault = None
        for kind, rate in (
            ("500", config.error_500_rate),
            ("429", config.error_429_rate),
            ("reset", config.reset_rate),
            ("slow", config.slow_rate),
        ):
            if pick < rate:
                fault = kind
                break
            pick -= rate
        return Draw(fault=fault, processed_before_delay=order < config.slow_processed_rate)

    async def add_latency(self) -> None:
        if self.config.latency_ms > 0:
            await asyncio.sleep(self.config.latency_ms / 1000)


async def read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands out the already-read body once, then the client's own events."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replaying() -> Message:
        return pending.pop() if pending else await receive()

    return replaying


async def process_then_reset(app: ASGIApp, scope: dict[str, Any], receive: Receive, client_receive: Receive,
                             send: Send) -> None:
    """Run the request to the end, throw the answer away, and reset the connection."""
    await app(scope, receive, _discard)
    transport = getattr(getattr(client_receive, "__self__", None), "transport", None)
    if transport is None:
        # Not uvicorn's own receive (another server, or trace logging wraps it): the closest we
        # get is a response cut short after its head, which clients also see as a broken connection.
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1")]})
        raise ConnectionAbortedError("sandbox: injected connection reset")
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # Linger 0: close() sends RST instead of FIN, a real "connection reset by peer".
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    # Let the server see the connection as lost before we return, so it sends nothing itself.
    await asyncio.sleep(0)


async def answer_late(app: ASGIApp, scope: dict[str, Any], receive: Receive, client_receive: Receive,
                      send: Send, *, seconds: float, processed_before_delay: bool) -> None:
    """Delay the answer by ``seconds``, watching whether the client hangs up meanwhile."""
    hung_up = asyncio.ensure_future(_disconnect(client_receive))
    try:
        if processed_before_delay:
            held: list[Message] = []
            await app(scope, receive, _collect_into(held))
            if not await _within(hung_up, seconds):
                for message in held:
                    await send(message)
        elif not await _within(hung_up, seconds):
            await app(scope, receive, send)
        # else: the client gave up before the request was looked at; nothing was processed.
    finally:
        hung_up.cancel()


async def _disconnect(receive: Receive) -> None:
    # The body is read already, so the next event of the client can only be its disconnect.
    while (await receive())["type"] != "http.disconnect":
        pass


async def _within(task: asyncio.Future[None], seconds: float) -> bool:
    done, _ = await asyncio.wait({task}, timeout=seconds)
    return bool(done)


async def _discard(message: Message) -> None:
    return None


def _collect_into(held: list[Message]) -> Send:
    async def collect(message: Message) -> None:
        held.append(message)

    return collect
