"""What a simulated vendor holds: its courses, how often each external key was created, counters."""

from __future__ import annotations

import copy
import random
import secrets
import string
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

FAULT_KINDS = ("500", "429", "reset", "slow")


def utc_now() -> str:
    """ISO 8601 with milliseconds and ``Z``, the form the vendors answer with."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# A vendor's ids need only be unique, not secret: one system call per character (secrets.choice) gave the
# GIL away 20 times per course, and the sandbox serves every vendor on one thread.
_ids = random.Random(secrets.randbits(64))


def random_id(length: int, alphabet: str = string.ascii_letters + string.digits, prefix: str = "") -> str:
    return prefix + "".join(_ids.choices(alphabet, k=length))


class VendorStore:
    """Courses by vendor id, an index by external key, and the counters of one vendor.

    ``lock`` is re-entrant and public: a handler holds it across a read-check-write sequence
    (find by key, then create or update) so two concurrent requests cannot both create.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.clear()

    def clear(self) -> None:
        with self.lock:
            self._courses: dict[str, dict[str, Any]] = {}
            self._by_key: dict[str, str] = {}
            self._created_per_key: Counter[str] = Counter()
            self._duplicates = 0
            self._requests = 0
            # Wall-clock times of the first and last request: when an account was busy (the scale benchmark's timeline).
            self.first_request_at: float | None = None
            self.last_request_at: float | None = None
            self._throttled = 0
            self._faults: Counter[str] = Counter()

    # courses

    def create(self, course_id: str, external_key: str | None, body: Any, **extra: Any) -> dict[str, Any]:
        """Add a course. A key created before makes a duplicate (only HighLevel lets that happen)."""
        now = utc_now()
        record = {"id": course_id, "external_key": external_key, "body": body, **extra}
        record.setdefault("created_at", now)
        record.setdefault("updated_at", now)
        with self.lock:
            self._courses[course_id] = record
            if external_key is not None:
                if self._created_per_key[external_key]:
                    self._duplicates += 1
                self._created_per_key[external_key] += 1
                self._by_key[external_key] = course_id
        return record

    def update(self, course_id: str, body: Any = None, **extra: Any) -> dict[str, Any]:
        """Change a course; passing ``external_key`` moves it in the index (Thought Industries allows that)."""
        with self.lock:
            record = self._courses[course_id]
            if "external_key" in extra and extra["external_key"] != record["external_key"]:
                if self._by_key.get(record["external_key"]) == course_id:
                    del self._by_key[record["external_key"]]
                if extra["external_key"] is not None:
                    self._by_key[extra["external_key"]] = course_id
            if body is not None:
                record["body"] = body
            record.update(extra)
            record["updated_at"] = utc_now()
            return record

    def get(self, course_id: str) -> dict[str, Any] | None:
        with self.lock:
            return self._courses.get(course_id)

    def find(self, external_key: str) -> dict[str, Any] | None:
        with self.lock:
            course_id = self._by_key.get(external_key)
            return self._courses.get(course_id) if course_id else None

    def courses(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self._courses.values())

    # counters

    @property
    def requests(self) -> int:
        return self._requests

    def count_request(self) -> None:
        now = time.time()
        with self.lock:
            self._requests += 1
            if self.first_request_at is None:
                self.first_request_at = now
            self.last_request_at = now

    def count_throttled(self) -> None:
        with self.lock:
            self._throttled += 1

    def count_fault(self, kind: str) -> None:
        with self.lock:
            self._faults[kind] += 1

    def snapshot(self) -> dict[str, Any]:
        """A deep copy, taken under the lock, ready for JSON."""
        with self.lock:
            return {
                "courses": copy.deepcopy(list(self._courses.values())),
                "created_per_key": dict(self._created_per_key),
                "duplicates": self._duplicates,
                "counters": {
                    "requests": self._requests,
                    "throttled": self._throttled,
                    "faults": {kind: self._faults[kind] for kind in FAULT_KINDS},
                },
            }
