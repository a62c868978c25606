"""The HTTP transport every vendor client uses: one pooled session, one rate limiter shared by all
worker threads, timeouts, retries that never risk a duplicate, and secrets kept out of every message.

Retry rules (the heart of "never a duplicate"):
- 429, a refused connection, a connect timeout: the vendor did not process the request, so it is
  always repeated (after Retry-After, or exponential backoff with jitter).
- 5xx, 408, a read timeout, a connection reset: the vendor may have processed it. Repeated only when
  the request is `idempotent` (an upsert keyed by our id, an identical Kombo body, a lookup);
  otherwise the caller gets Uncertain and the item is `unknown`, never re-sent blindly.
- NotSent (provably not processed) is what the caller gets only when no attempt may have been
  processed: a reset, then 429s until attempts run out, is Uncertain.
- 401: the auth gets one chance to refresh (HighLevel OAuth), then the request is repeated once, at once.
- a quota that outlasts the run (HighLevel's daily one, see `quota`): once spent, nothing more is sent
  and its 429 is not retried.
- other 4xx: returned to the caller, which turns the vendor's error into a failed outcome.

And so that an answer is not lost in the first place, a connection idle for longer than MAX_IDLE_REUSE is
opened again rather than reused (a server may be closing it just then).
"""

from __future__ import annotations

import base64
import bisect
import email.utils
import logging
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

log = logging.getLogger(__name__)

RETRYABLE_STATUS = {408, 500, 502, 503, 504}
REDACTED = "***"
STOP_POLL_SECONDS = 0.5  # a thread waiting for the limiter looks this often whether the sync was stopped


# ----------------------------------------------------------------------------------------- secrets

def credential_forms(secret: str, password: str = "") -> set[str]:
    """Every spelling of a credential that can appear on the wire or in an echo of it: raw (also as
    `Bearer <x>`), URL-encoded, and the base64 of HTTP Basic auth (`key:` and `key:password`, with and
    without padding)."""
    forms = {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)}
    for pair in {f"{secret}:", f"{secret}:{password}"}:
        encoded = base64.b64encode(pair.encode()).decode()
        forms |= {encoded, encoded.rstrip("=")}
    return forms


class Redactor:
    """Replaces every known secret, in each of its forms (credential_forms), in a text. Secrets are
    registered as they appear (a refreshed access token included), so nothing that passed through a
    client can leak into a message."""

    def __init__(self, secrets: Iterable[str | None] = ()):
        self._secrets: set[str] = set()
        self._lock = threading.Lock()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None, password: str = "") -> None:
        if secret and len(secret) >= 4:
            with self._lock:
                self._secrets |= {form for form in credential_forms(secret, password) if len(form) >= 4}

    def __call__(self, text: Any) -> str:
        text = str(text)
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return text


# ------------------------------------------------------------------------------------ rate limiting

MARGIN_CAP = 1.0  # seconds: the most the limiter's margin adds to a window


@dataclass(frozen=True)
class Limits:
    """A vendor's pace: `requests` per `window` seconds, any further windows held at the same time
    (`also`: (requests, seconds) pairs, e.g. 1,000 an hour beside 60 a minute), and/or `concurrency`
    requests in flight."""

    requests: int | None = None
    window: float = 1.0
    concurrency: int | None = None
    # Spacing kept on top of the window. Each send is counted from when its answer came back (the latest
    # moment the vendor can have counted it), so jitter between our departure and the vendor's arrival
    # cannot push a window over the limit; the margin covers how coarsely the vendor's clock counts: a share
    # of the window, at most MARGIN_CAP, a second (the unit vendors count waits in: Retry-After is whole
    # seconds, RFC 9110 §10.2.3), so a minute's window waits 1 s more, not 1.8, and an hour's not 108 s.
    margin: float = 0.03
    also: tuple[tuple[int, float], ...] = ()

    def padded(self, seconds: float) -> float:
        """A window's length as the limiter keeps it: the vendor's plus the margin."""
        return seconds + min(seconds * self.margin, MARGIN_CAP)

    def windows(self) -> list[tuple[int, float]]:
        """Every (requests, seconds) window a send must fit in."""
        first = [(self.requests, self.window)] if self.requests is not None else []
        return [*first, *self.also]

    @property
    def longest(self) -> float:
        return max((seconds for _, seconds in self.windows()), default=self.window)


class InFlight:
    """At most `limit` requests in flight, a limit the vendor may move (follow)."""

    def __init__(self, limit: int):
        self.limit, self.busy = limit, 0
        self._cond = threading.Condition()

    def acquire(self) -> None:
        with self._cond:
            while self.busy >= self.limit:
                self._cond.wait()
            self.busy += 1

    def release(self) -> None:
        with self._cond:
            self.busy -= 1
            self._cond.notify()

    def follow(self, limit: int, remaining: int) -> None:
        """The vendor's count, from the answer to a request of ours just released: it counts every client
        of the account, so our share is what it has left plus what we had out (that request and `busy`)."""
        with self._cond:
            self.limit = max(1, min(limit, remaining + self.busy + 1))
            self._cond.notify_all()


class RateLimiter:
    """A sliding-window limiter (one or several windows at once) shared by every thread of a step,
    which also obeys the vendor: a Retry-After, or a Remaining of 0 with a reset time, pauses every
    thread until then.

    Hand-written rather than pyrate-limiter: the pausing on vendor headers is the part that matters
    here, and it is a few lines on top of a window; the maintained limiters expose no such hook."""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic):
        self.limits = limits
        self._clock = clock
        self._sent: list[float] = []  # sorted: every window counts from its end
        self._paused_until = 0.0
        self._cond = threading.Condition()
        self._in_flight = InFlight(limits.concurrency) if limits.concurrency else None
        self.waited = 0.0  # seconds threads spent waiting here, summed (for the metrics)
        self.stop: threading.Event | None = None  # set: no thread is let through any more

    def _spans(self) -> list[tuple[int, float]]:
        return [(count, self.limits.padded(seconds)) for count, seconds in self.limits.windows()]

    def _free_in(self, now: float) -> float:
        """Seconds until every window has a free place (0: now). `_sent` is sorted."""
        wait = 0.0
        for count, span in self._spans():
            inside = len(self._sent) - bisect.bisect_right(self._sent, now - span)
            if inside >= count:  # the oldest send that must leave this window first
                wait = max(wait, self._sent[len(self._sent) - count] + span - now)
        return wait

    def acquire(self) -> float | None:
        """Wait for a free place in every window; returns the place, to be handed back to release()."""
        started = self._clock()
        place = None
        longest = self.limits.padded(self.limits.longest)
        with self._cond:
            while True:
                if self.stop is not None and self.stop.is_set():
                    raise NotSent("the sync was stopped before this request was sent")
                now = self._clock()
                if now < self._paused_until:
                    self._cond.wait(min(self._paused_until - now, STOP_POLL_SECONDS))
                    continue
                if not self.limits.windows():
                    break
                del self._sent[:bisect.bisect_right(self._sent, now - longest)]
                wait = self._free_in(now)
                if wait <= 0:
                    bisect.insort(self._sent, now)
                    place = now
                    break
                self._cond.wait(min(wait, STOP_POLL_SECONDS))
        if self._in_flight:
            self._in_flight.acquire()
        self.waited += self._clock() - started
        return place

    def release(self, place: float | None = None) -> None:
        """The request is done: its place in the window now counts from this moment."""
        if place is not None:
            with self._cond:
                try:
                    self._sent.remove(place)
                except ValueError:  # already out of the window
                    pass
                else:
                    bisect.insort(self._sent, self._clock())
        if self._in_flight:
            self._in_flight.release()

    def pause(self, seconds: float) -> None:
        """No thread sends for `seconds` (a Retry-After, or a spent window the vendor told us of)."""
        with self._cond:
            self._paused_until = max(self._paused_until, self._clock() + seconds)
            self._cond.notify_all()

    @property
    def concurrency(self) -> int | None:
        return self._in_flight.limit if self._in_flight else None

    def follow_concurrency(self, limit: int, remaining: int) -> None:
        """The vendor announced its concurrency limit and what is left of it (Kombo's Concurrency-* headers)."""
        if self._in_flight:
            self._in_flight.follow(limit, remaining)

    def vendor_window_spent(self, seconds: float) -> None:
        """The vendor says none are left until `seconds` from now. When one of our own windows is full too
        we wait anyway (and the vendor's reset, in whole seconds, would only add delay); when none is, the
        vendor counts requests we did not make (another client on the account): pause."""
        with self._cond:
            ours_full = self._free_in(self._clock()) > 0
        if not self.limits.windows() or not ours_full:
            self.pause(seconds)

    # A new run's limiter starts from the sends of the previous run's last window (kept in the
    # ledger), so back-to-back runs of a backfill do not burst into a window the vendor still counts.

    def recent_sends(self) -> list[float]:
        """Wall-clock times of the sends still inside the longest window."""
        with self._cond:
            offset = time.time() - self._clock()
            span = self.limits.padded(self.limits.longest)
            now = self._clock()
            return [sent + offset for sent in self._sent if sent > now - span]

    def preload(self, wall_times: list[float]) -> None:
        with self._cond:
            offset = time.time() - self._clock()
            span = self.limits.padded(self.limits.longest)
            now = self._clock()
            earlier = [t - offset for t in wall_times if t - offset > now - span]
            self._sent = sorted([*earlier, *self._sent])


def retry_after_seconds(headers: Any, now: float | None = None) -> float | None:
    """Retry-After as seconds or an HTTP date; None when absent or unreadable."""
    value = headers.get("Retry-After") if headers else None
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        if parsed is None:
            return None
        return max(parsed.timestamp() - (now if now is not None else time.time()), 0.0)


def spent_window_seconds(headers: Any, now: float | None = None) -> float | None:
    """When the vendor says none are left (X-RateLimit-Remaining: 0), how long until its reset."""
    if not headers or headers.get("X-RateLimit-Remaining") != "0":
        return None
    reset = headers.get("X-RateLimit-Reset")  # Thought Industries: epoch seconds
    if reset:
        try:
            return max(float(reset) - (now if now is not None else time.time()), 0.0)
        except ValueError:
            return None
    interval = headers.get("X-RateLimit-Interval-Milliseconds")  # HighLevel: the window's length
    return float(interval) / 1000 if interval else None


def announced_concurrency(headers: Any) -> tuple[int, int] | None:
    """Kombo's Concurrency-Limit and Concurrency-Remaining (on every action's answer), when both are there.
    https://docs.kombo.dev/lms/guides/concurrency-limiting"""
    try:
        return int(headers["Concurrency-Limit"]), int(headers["Concurrency-Remaining"])
    except (KeyError, TypeError, ValueError):
        return None


# ------------------------------------------------------------------------------------------ errors

class TransportError(Exception):
    """A request that did not get a usable answer. `status` is the HTTP status when there was one."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.message, self.status, self.code = message, status, code
        self.attempts = 1


class Uncertain(TransportError):
    """The vendor may or may not have processed the request (lost answer, 5xx on a non-idempotent call)."""


class NotSent(TransportError):
    """The vendor provably did not process the request, and retries ran out (429s, refused connections)."""


class _Again(Exception):
    """Internal: this attempt should be repeated, after at least `wait` seconds (`now`: without backoff)."""

    def __init__(self, reason: TransportError, wait: float = 0.0, now: bool = False):
        super().__init__(reason.message)
        self.reason, self.wait, self.now = reason, wait, now


def _not_sent(exc: requests.RequestException) -> bool:
    """True when the request never reached the vendor: refused, unresolvable, connect timeout."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = exc.args[0] if exc.args else None
    inner = getattr(reason, "reason", reason)
    return isinstance(inner, urllib3.exceptions.NewConnectionError | urllib3.exceptions.NameResolutionError)


def _settled(last: TransportError, maybe_processed: list[Uncertain], attempts: int) -> TransportError:
    """What a request that got no usable answer ends as. Its last attempt decides, except that NotSent
    speaks only of that attempt: once an earlier one may have been processed (a reset, a timeout, a 5xx
    before a 429), the request as a whole is Uncertain."""
    if isinstance(last, NotSent) and maybe_processed:
        first = maybe_processed[0]
        last = Uncertain(f"{first.message}; then, repeated: {last.message}", status=first.status, code=first.code)
    last.attempts = attempts
    return last


# ----------------------------------------------------------------------------------------- auth

class Auth:
    """Adds credentials to a request; may refresh them once after a 401."""

    def apply(self, session: requests.Session, headers: dict[str, str]) -> Any:
        return None  # the `auth` argument for requests, if any

    def refresh(self, transport: HttpTransport, used: dict[str, str]) -> bool:
        """Get fresh credentials after a 401 on a request sent with headers `used`; True to retry."""
        return False


@dataclass
class BearerAuth(Auth):
    token: str

    def apply(self, session, headers):
        headers["Authorization"] = f"Bearer {self.token}"


@dataclass
class BasicAuth(Auth):
    username: str
    password: str = ""

    def apply(self, session, headers):
        return (self.username, self.password)


# -------------------------------------------------------------------------------------- transport

@dataclass
class TransportStats:
    requests: int = 0
    throttled: int = 0  # 429s received
    retries: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)


@dataclass
class RetryPolicy:
    attempts: int = 6
    # StackOne's SDKs: from 0.5 s, factor 1.5, capped at 60 s; we use it for every vendor.
    initial: float = 0.5
    factor: float = 1.5
    cap: float = 60.0


# The longest a pooled connection may lie idle and still be reused. A server closes an idle keep-alive
# connection after its own timeout (5 s by default in gunicorn, uvicorn and Node.js); a request sent on it as
# it closes is lost with "connection reset" or "closed without response", which for a create means the
# vendor may or may not hold the course: `unknown` or a lookup, never a clean retry (AWS's ELB guide and
# Heroku's router docs describe the same race). Measured on the sandbox (uvicorn, 5 s): 28 of 480 requests
# sent after 4.97-5.04 s idle were lost. A paced client idles that long between a window's requests, so it
# reconnects instead: a handshake, not an unknown outcome.
MAX_IDLE_REUSE = 2.0


class _NoStaleConnections:
    """urllib3 pool mixin: a connection idle longer than `max_idle` is closed before it is reused (urllib3
    then opens it again), as urllib3 does already for one the server has visibly closed."""

    max_idle: float = MAX_IDLE_REUSE
    clock: Callable[[], float] = staticmethod(time.monotonic)

    def _get_conn(self, timeout=None):
        conn = super()._get_conn(timeout)
        idle_since = getattr(conn, "idle_since", None)
        if idle_since is not None and self.clock() - idle_since > self.max_idle:
            conn.close()
        return conn

    def _put_conn(self, conn) -> None:
        if conn is not None:
            conn.idle_since = self.clock()
        super()._put_conn(conn)


class FreshConnectionAdapter(HTTPAdapter):
    """requests' adapter over pools that never reuse a connection idle past `max_idle` seconds."""

    def __init__(self, *, max_idle: float = MAX_IDLE_REUSE, clock: Callable[[], float] = time.monotonic,
                 **kwargs: Any):
        extra = {"max_idle": max_idle, "clock": staticmethod(clock)}
        self._pool_classes = {"http": type("FreshHTTPConnectionPool", (_NoStaleConnections, HTTPConnectionPool), extra),
                              "https": type("FreshHTTPSConnectionPool", (_NoStaleConnections, HTTPSConnectionPool),
                                            extra)}
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pool_classes


class HttpTransport:
    """One vendor's connection: base URL, auth, headers, limiter, retries, stats, redaction."""

    def __init__(self, vendor: str, base_url: str, auth: Auth, limiter: RateLimiter, *,
                 headers: dict[str, str] | None = None, timeout: tuple[float, float] = (5.0, 30.0),
                 retry: RetryPolicy | None = None, redactor: Redactor | None = None, pool_size: int = 16,
                 clock: Callable[[], float] = time.monotonic):
        self.vendor = vendor
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.limiter = limiter
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.redact = redactor or Redactor()
        self.stats = TransportStats()
        self.session = requests.Session()
        # urllib3 must not retry on its own: only we know whether a repeat is safe.
        adapter = FreshConnectionAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0, clock=clock)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._refresh_lock = threading.Lock()
        self.stop: threading.Event | None = None  # set: no further attempt, no further wait
        # A vendor's quota that outlasts the run (HighLevel's daily one): given an answer's headers, the
        # (code, message) when it is used up. Then nothing more is sent and a 429 is not retried.
        self.quota: Callable[[Any], tuple[str, str] | None] | None = None
        self.quota_spent: tuple[str, str] | None = None
        self._backoff = wait_exponential_jitter(multiplier=self.retry.initial, exp_base=self.retry.factor,
                                                max=self.retry.cap, jitter=self.retry.initial)

    def close(self) -> None:
        self.session.close()

    def request(self, method: str, path: str, *, idempotent: bool, json: Any = None,
                params: dict | None = None, data: dict | None = None) -> requests.Response:
        """The vendor's answer (2xx or a 4xx to be read by the caller), after the retry rules above.
        Raises Uncertain or NotSent when no usable answer could be had."""
        refreshed = {"done": False}

        def wait(state: RetryCallState) -> float:
            again = state.outcome.exception() if state.outcome else None
            if getattr(again, "now", False):
                return 0.0
            return max(self._backoff(state), getattr(again, "wait", 0.0))

        def stopped(_state: RetryCallState) -> bool:
            return self.stop is not None and self.stop.is_set()

        def sleep(seconds: float) -> None:  # a backoff a stop request cuts short
            if self.stop is None:
                time.sleep(seconds)
            else:
                self.stop.wait(seconds)

        retrying = Retrying(stop=stop_after_attempt(self.retry.attempts) | stopped, wait=wait, sleep=sleep,
                            retry=retry_if_exception_type(_Again), reraise=True,
                            before_sleep=lambda _state: self.stats.add(retries=1))
        attempts = 0
        maybe_processed: list[Uncertain] = []  # attempts the vendor may have processed
        try:
            for attempt in retrying:
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    try:
                        response = self._attempt(method, path, idempotent, json, params, data, refreshed)
                    except _Again as again:
                        if isinstance(again.reason, Uncertain):
                            maybe_processed.append(again.reason)
                        raise
                    response.attempts = attempts  # how many tries it took, for the item's outcome
                    return response
        except _Again as exc:  # attempts ran out
            raise _settled(exc.reason, maybe_processed, attempts) from None
        except TransportError as exc:
            raise _settled(exc, maybe_processed, attempts) from None
        raise AssertionError("unreachable")

    def _attempt(self, method, path, idempotent, json, params, data, refreshed) -> requests.Response:
        if self.quota_spent:
            code, message = self.quota_spent
            raise NotSent(message, code=code)
        headers = dict(self.headers)
        auth = self.auth.apply(self.session, headers)
        place = self.limiter.acquire()
        try:
            self.stats.add(requests=1)
            response = self.session.request(method, f"{self.base_url}{path}", json=json, params=params, data=data,
                                            headers=headers, auth=auth, timeout=self.timeout)
        except requests.RequestException as exc:
            detail = self.redact(f"{type(exc).__name__}: {exc}")
            if _not_sent(exc):
                raise _Again(NotSent(f"{self.vendor} not reached: {detail}")) from None
            if idempotent:
                raise _Again(Uncertain(f"{self.vendor} answer lost: {detail}")) from None
            raise Uncertain(f"{self.vendor} answer lost after sending: {detail}") from None
        finally:
            self.limiter.release(place)
        pause = spent_window_seconds(response.headers)
        if pause:
            self.limiter.vendor_window_spent(pause)
        announced = announced_concurrency(response.headers)
        if announced:
            self.limiter.follow_concurrency(*announced)
        status = response.status_code
        spent = self.quota(response.headers) if self.quota else None
        if spent:
            self.quota_spent = spent
            if status == 429:  # no retry can succeed before the quota resets
                self.stats.add(throttled=1)
                raise NotSent(spent[1], status=429, code=spent[0])
        if status == 429:
            self.stats.add(throttled=1)
            delay = retry_after_seconds(response.headers)
            if delay is not None:
                self.limiter.pause(delay)
            raise _Again(NotSent(f"{self.vendor} throttled us (429): {self.redact(response.text[:300])}",
                                 status=429), wait=delay or 0.0)
        if status == 401 and not refreshed["done"]:
            refreshed["done"] = True
            with self._refresh_lock:
                if self.auth.refresh(self, headers):  # fresh credentials: no reason to wait
                    raise _Again(NotSent(f"{self.vendor}: 401 after refreshing the token", status=401), now=True)
            return response
        if status in RETRYABLE_STATUS:
            error = Uncertain(f"{self.vendor} answered {status}: {self.redact(response.text[:300])}", status=status)
            if idempotent:
                raise _Again(error, wait=retry_after_seconds(response.headers) or 0.0)
            raise error
        return response
