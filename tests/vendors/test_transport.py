"""The transport's rules: pacing, obeying the vendor, retrying only where a repeat is safe, redaction."""

from __future__ import annotations

import contextlib
import http.server
import socket
import threading

import pytest

from course_pipeline.sandbox import SANDBOX_TOKENS, SandboxConfig, SandboxServer
from course_pipeline.vendors.transport import (
    MAX_IDLE_REUSE,
    BearerAuth,
    HttpTransport,
    Limits,
    NotSent,
    RateLimiter,
    Redactor,
    RetryPolicy,
    Uncertain,
    announced_concurrency,
    retry_after_seconds,
    spent_window_seconds,
)

FAST_RETRY = RetryPolicy(attempts=3, initial=0.01, factor=1.5, cap=0.05)


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_limiter_lets_a_window_through_then_waits():
    clock = FakeClock()
    limiter = RateLimiter(Limits(requests=3, window=1.0, margin=0.0), clock=clock)
    for _ in range(3):
        limiter.acquire()
    blocked = threading.Thread(target=limiter.acquire, daemon=True)
    blocked.start()
    blocked.join(0.2)
    assert blocked.is_alive()  # the fourth waits for the window
    clock.now = 1.01
    with limiter._cond:
        limiter._cond.notify_all()
    blocked.join(2)
    assert not blocked.is_alive()


def test_the_limiters_margin_is_a_share_of_the_window_up_to_a_second():
    """3 % of a window (10 s: 0.3 s more), never more than a second (a minute: 61 s, an hour: 3,601 s)."""
    for window, free_after in ((1.0, 1.03), (10.0, 10.3), (60.0, 61.0), (3600.0, 3601.0)):
        clock = FakeClock()
        limiter = RateLimiter(Limits(requests=1, window=window), clock=clock)
        limiter.release(limiter.acquire())  # counted from its answer, at 0
        assert limiter._free_in(0.0) == pytest.approx(free_after)


def test_limiter_pause_holds_every_thread():
    limiter = RateLimiter(Limits(requests=100, window=1.0))
    limiter.pause(0.3)
    import time

    started = time.monotonic()
    limiter.acquire()
    assert time.monotonic() - started >= 0.25


def test_vendor_headers_are_read():
    assert retry_after_seconds({"Retry-After": "2"}) == 2.0
    assert retry_after_seconds({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, now=1445412470.0) == 10.0
    assert retry_after_seconds({}) is None
    assert spent_window_seconds({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "105"}, now=100.0) == 5.0
    assert spent_window_seconds({"X-RateLimit-Remaining": "0", "X-RateLimit-Interval-Milliseconds": "10000"}) == 10.0
    assert spent_window_seconds({"X-RateLimit-Remaining": "7"}) is None


def test_kombo_concurrency_headers_are_read():
    assert announced_concurrency({"Concurrency-Limit": "30", "Concurrency-Remaining": "12"}) == (30, 12)
    assert announced_concurrency({"Concurrency-Remaining": "12"}) is None
    assert announced_concurrency({"Concurrency-Limit": "x", "Concurrency-Remaining": "1"}) is None
    assert announced_concurrency(None) is None


def test_the_in_flight_cap_follows_the_vendor_share_left_to_us():
    limiter = RateLimiter(Limits(concurrency=30))
    limiter.follow_concurrency(5, 4)  # nothing else of ours out: the vendor's limit
    assert limiter.concurrency == 5
    for _ in range(3):
        limiter.acquire()
    limiter.follow_concurrency(30, 0)  # someone else holds the rest: our 3 out, plus the one just answered
    assert limiter.concurrency == 4
    limiter.acquire()
    blocked = threading.Thread(target=limiter.acquire, daemon=True)
    blocked.start()
    blocked.join(0.2)
    assert blocked.is_alive()  # a fifth waits
    limiter.follow_concurrency(30, 25)  # the others are done: more room
    blocked.join(2)
    assert not blocked.is_alive() and limiter.concurrency == 30
    for _ in range(5):
        limiter.release()
    limiter.follow_concurrency(30, -3)  # never below one
    assert limiter.concurrency == 1


def test_redactor_hides_every_registered_secret():
    redact = Redactor(["s3cr3t-token", None, "ab"])
    redact.add("later-token-xyz")
    assert redact("Bearer s3cr3t-token and later-token-xyz; ab stays") == "Bearer *** and ***; ab stays"


@pytest.fixture(scope="module")
def sandbox():
    with SandboxServer(SandboxConfig()) as server:
        yield server


@contextlib.contextmanager
def faults(sandbox, vendor, **settings):
    """The vendor answers with these faults inside the block, and normally again after it."""
    sandbox.set_faults(vendor, **settings)
    try:
        yield
    finally:
        sandbox.set_faults(vendor)


def transport(sandbox, vendor_path, token, **headers):
    return HttpTransport("test", f"{sandbox.url}{vendor_path}", BearerAuth(token), RateLimiter(Limits()),
                         headers=headers, retry=FAST_RETRY, timeout=(1, 2))


def test_a_500_on_an_import_is_uncertain_and_not_repeated(sandbox):
    with faults(sandbox, "highlevel", error_500_rate=1.0):
        client = transport(sandbox, "/highlevel", SANDBOX_TOKENS["highlevel_token"], Version="2021-07-28")
        with pytest.raises(Uncertain):
            client.request("POST", "/courses/courses-exporter/public/import", idempotent=False,
                           json={"locationId": SANDBOX_TOKENS["highlevel_location_id"], "products": []})
        assert client.stats.requests == 1 and client.stats.retries == 0


def test_a_500_on_an_upsert_is_repeated_until_attempts_run_out(sandbox):
    with faults(sandbox, "kombo", error_500_rate=1.0):
        client = transport(sandbox, "/kombo/v1", SANDBOX_TOKENS["kombo_api_key"],
                           **{"X-Integration-Id": SANDBOX_TOKENS["kombo_integration_id"]})
        with pytest.raises(Uncertain) as info:
            client.request("POST", "/lms/courses/bulk", idempotent=True, json={"items": []})
        assert client.stats.requests == 3 and info.value.attempts == 3


def test_429s_are_repeated_for_any_request_and_counted(sandbox):
    with faults(sandbox, "highlevel", error_429_rate=1.0):
        client = transport(sandbox, "/highlevel", SANDBOX_TOKENS["highlevel_token"], Version="2021-07-28")
        client.retry = RetryPolicy(attempts=2, initial=0.01, cap=0.02)
        with pytest.raises(NotSent):
            client.request("POST", "/courses/courses-exporter/public/import", idempotent=False,
                           json={"locationId": SANDBOX_TOKENS["highlevel_location_id"], "products": []})
        assert client.stats.throttled == 2 and client.stats.requests == 2


def test_a_429_after_a_lost_answer_leaves_the_request_uncertain(sandbox):
    """The last attempt was provably not processed, but the first may have been: not NotSent."""
    with faults(sandbox, "kombo", script=["reset", "429"]):
        client = transport(sandbox, "/kombo/v1", SANDBOX_TOKENS["kombo_api_key"],
                           **{"X-Integration-Id": SANDBOX_TOKENS["kombo_integration_id"]})
        client.retry = RetryPolicy(attempts=2, initial=0.01, cap=0.02)
        with pytest.raises(Uncertain) as info:
            client.request("POST", "/lms/courses/bulk", idempotent=True, json={"items": []})
        assert info.value.attempts == 2 and info.value.status is None
        assert "answer lost" in info.value.message and "429" in info.value.message


def test_a_refused_connection_is_not_sent():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = HttpTransport("test", f"http://127.0.0.1:{port}", BearerAuth("t"), RateLimiter(Limits()),
                           retry=FAST_RETRY, timeout=(0.5, 0.5))
    with pytest.raises(NotSent) as info:
        client.request("POST", "/x", idempotent=False, json={})
    assert info.value.attempts == 3


class _CountsConnections(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a connection stays open between requests

    def do_GET(self):
        self.server.connections.add(self.client_address)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_connection_idle_past_a_servers_keep_alive_is_not_reused():
    """A request sent on a connection the server is closing for idleness is lost ("connection reset"): for a
    create, an unknown outcome. A connection idle longer than MAX_IDLE_REUSE is opened again instead."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CountsConnections)
    server.connections = set()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    clock = FakeClock()
    client = HttpTransport("test", f"http://127.0.0.1:{server.server_port}", BearerAuth("t"),
                           RateLimiter(Limits()), retry=FAST_RETRY, clock=clock)
    try:
        client.request("GET", "/a", idempotent=True)
        clock.now = MAX_IDLE_REUSE - 0.1
        client.request("GET", "/b", idempotent=True)
        assert len(server.connections) == 1  # reused: idle for less than the limit
        clock.now += MAX_IDLE_REUSE + 0.1
        client.request("GET", "/c", idempotent=True)
        assert len(server.connections) == 2  # idle too long: a new connection
    finally:
        client.close()
        server.shutdown()
        server.server_close()


def test_kombo_concurrency_headers_set_the_pace(make_kombo_sandbox):
    server = make_kombo_sandbox
    client = HttpTransport("kombo", server.base_urls["kombo"], BearerAuth(SANDBOX_TOKENS["kombo_api_key"]),
                           RateLimiter(Limits(concurrency=30)), retry=FAST_RETRY, timeout=(1, 5),
                           headers={"X-Integration-Id": SANDBOX_TOKENS["kombo_integration_id"]})

    def upsert(n: int):
        return client.request("POST", "/lms/courses/bulk", idempotent=True, json={"items": [
            {"origin_id": f"c-{n}", "course": {"type": "EXTERNAL", "title": "T", "course_url": "https://x.example/c"}}]})

    assert upsert(0).status_code == 200
    assert client.limiter.concurrency == 2  # the integration's limit, from the first answer
    threads = [threading.Thread(target=upsert, args=(n,)) for n in range(1, 7)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert server.state()["vendors"]["kombo"]["counters"]["throttled"] == 0
    assert client.stats.requests == 7 and client.stats.throttled == 0


@pytest.fixture
def make_kombo_sandbox():
    """An integration that allows 2 actions in flight, each answered 300 ms late so that they overlap."""
    config = SandboxConfig(kombo_concurrency_limit=2, faults={"kombo": {"latency_ms": 300}})
    with SandboxServer(config) as server:
        yield server


def _admits_now(limiter: RateLimiter) -> bool:
    with limiter._cond:
        return limiter._free_in(limiter._clock()) <= 0


def test_limiter_holds_several_windows_at_once():
    # Thought Industries' course management: 60 a minute and 1,000 an hour, scaled down here to 3 a
    # second and 5 in ten seconds: the shorter window paces, the longer one caps the total.
    clock = FakeClock()
    limiter = RateLimiter(Limits(requests=3, window=1.0, also=((5, 10.0),), margin=0.0), clock=clock)
    for _ in range(3):
        limiter.release(limiter.acquire())
    assert not _admits_now(limiter)  # the second's window is full
    clock.now = 1.01
    for _ in range(2):
        limiter.release(limiter.acquire())
    clock.now = 2.5
    assert not _admits_now(limiter)  # a free second, but the ten-second window holds 5
    clock.now = 10.01
    assert _admits_now(limiter)  # the first three left the long window


def test_limiter_carries_the_longest_window_across_runs():
    clock = FakeClock()
    first = RateLimiter(Limits(requests=3, window=1.0, also=((5, 10.0),), margin=0.0), clock=clock)
    for _ in range(5):
        clock.now += 1.5
        first.release(first.acquire())
    kept = first.recent_sends()
    assert len(kept) == 5  # all still inside the hour-like window, though most left the short one
    second = RateLimiter(first.limits, clock=clock)
    second.preload(kept)
    assert not _admits_now(second)
