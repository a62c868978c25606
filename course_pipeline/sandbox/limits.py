"""Rate and concurrency limits with the header sets the vendors put on their answers.

A request is admitted only if every limit of its vendor admits it (check, then commit), so a
refused request uses up nothing. Limits live on the server's event loop, but they lock anyway:
the state endpoint and tests may read them from other threads.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Scope = dict[str, Any]


@dataclass(frozen=True)
class LimitStatus:
    """What a vendor may tell about one limit: its size, what is left, its window, when it frees up."""

    limit: int
    remaining: int
    window: float
    reset_epoch: float


@dataclass(frozen=True)
class Refusal:
    retry_after: int  # whole seconds, as in a Retry-After header
    message: str
    code: str | None = None


HeaderFormat = Callable[[LimitStatus], dict[str, str]]


def no_headers(status: LimitStatus) -> dict[str, str]:
    return {}


class SlidingWindow:
    """At most ``limit`` admitted requests in any ``window`` seconds."""

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        headers: HeaderFormat = no_headers,
        message: str = "Too many requests",
        code: str | None = None,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a rate limit needs limit >= 1 and window > 0")
        self.limit, self.window = limit, window
        self._headers, self._message, self._code = headers, message, code
        self._lock = threading.Lock()
        self._admitted: deque[float] = deque()
        self.peak = 0

    def check(self, scope: Scope, now: float) -> Refusal | None:
        with self._lock:
            self._expire(now)
            if len(self._admitted) < self.limit:
                return None
            wait = self._admitted[0] + self.window - now
            return Refusal(retry_after=max(1, math.ceil(wait)), message=self._message, code=self._code)

    def commit(self, scope: Scope, now: float) -> None:
        with self._lock:
            self._expire(now)
            self._admitted.append(now)
            # The most admitted in any one window: a window holding the most ends at an admission.
            self.peak = max(self.peak, len(self._admitted))

    def finish(self, scope: Scope) -> None:
        """Nothing to give back: a window counts requests, not time spent."""

    def headers(self, scope: Scope, now: float) -> dict[str, str]:
        with self._lock:
            self._expire(now)
            frees_in = self._admitted[0] + self.window - now if self._admitted else self.window
            status = LimitStatus(
                limit=self.limit,
                remaining=max(0, self.limit - len(self._admitted)),
                window=self.window,
                reset_epoch=now + frees_in,
            )
        return self._headers(status)

    def describe(self) -> dict[str, Any]:
        return {"kind": "window", "limit": self.limit, "window": self.window, "peak": self.peak}

    def _expire(self, now: float) -> None:
        while self._admitted and self._admitted[0] <= now - self.window:
            self._admitted.popleft()


class ConcurrencyLimit:
    """At most ``limit`` requests in flight per key (Kombo: per integration)."""

    def __init__(
        self,
        limit: int,
        key: Callable[[Scope], str],
        *,
        headers: HeaderFormat = no_headers,
        message: str = "Too many concurrent requests",
        code: str | None = None,
    ) -> None:
        if limit < 1:
            raise ValueError("a concurrency limit needs limit >= 1")
        self.limit, self._key = limit, key
        self._headers, self._message, self._code = headers, message, code
        self._lock = threading.Lock()
        self._in_flight: defaultdict[str, int] = defaultdict(int)
        self.peak = 0  # the most in flight at once under one key

    def check(self, scope: Scope, now: float) -> Refusal | None:
        with self._lock:
            if self._in_flight[self._key(scope)] < self.limit:
                return None
        return Refusal(retry_after=1, message=self._message, code=self._code)

    def commit(self, scope: Scope, now: float) -> None:
        with self._lock:
            key = self._key(scope)
            self._in_flight[key] += 1
            self.peak = max(self.peak, self._in_flight[key])

    def finish(self, scope: Scope) -> None:
        with self._lock:
            key = self._key(scope)
            self._in_flight[key] = max(0, self._in_flight[key] - 1)

    def headers(self, scope: Scope, now: float) -> dict[str, str]:
        with self._lock:
            remaining = max(0, self.limit - self._in_flight[self._key(scope)])
        return self._headers(LimitStatus(self.limit, remaining, 0.0, now))

    def describe(self) -> dict[str, Any]:
        return {"kind": "in_flight", "limit": self.limit, "peak": self.peak}


Limit = SlidingWindow | ConcurrencyLimit


def admit(limits: list[Limit], scope: Scope, now: float) -> tuple[Refusal | None, dict[str, str]]:
    """Admit a request against all limits at once (at `now`, epoch seconds from the sandbox's clock);
    answer the first refusal and the headers to send."""
    refusal = next((r for r in (limit.check(scope, now) for limit in limits) if r is not None), None)
    if refusal is None:
        for limit in limits:
            limit.commit(scope, now)
    headers: dict[str, str] = {}
    for limit in limits:
        headers.update(limit.headers(scope, now))
    return refusal, headers
