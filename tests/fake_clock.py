"""A clock the test moves itself: what the sandbox and the limiter read instead of the real time."""

from __future__ import annotations

import time


class FakeClock:
    def __init__(self, start: float | None = None):
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
