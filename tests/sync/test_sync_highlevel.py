"""HighLevel through the sync assets: a 422 refuses the whole request, so a refused batch is split until
each bad product is alone and the good ones land; the daily quota stops the vendor cleanly with the rest
left for the next run; a burst 429 is waited out by the X-RateLimit-* headers (no Retry-After); a 201 is
`queued`, with no vendor id. The sandbox's rules are in course_pipeline/sandbox/highlevel.py."""

from __future__ import annotations

import pytest
from fake_clock import FakeClock
from sync_support import FAST, sync

from course_pipeline.sandbox import SandboxConfig, SandboxServer


@pytest.fixture
def highlevel_sandbox(env, monkeypatch):
    """`highlevel_sandbox(**settings)`: a sandbox of its own for HighLevel, which the run's target uses."""
    servers = []

    def start(**settings) -> SandboxServer:
        server = SandboxServer(SandboxConfig(**{**FAST, **settings}))
        server.__enter__()
        servers.append(server)
        monkeypatch.setenv("COURSE_PIPELINE_SANDBOX_URL", server.url)
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)


def highlevel(server: SandboxServer) -> dict:
    return server.state()["vendors"]["highlevel"]


def test_a_refused_batch_is_split_so_the_bad_product_is_rejected_alone_and_the_good_ones_land(
        highlevel_sandbox, catalog, instance, monkeypatch):
    server = highlevel_sandbox(highlevel_refused_titles=("Course 9",))
    monkeypatch.setenv("HIGHLEVEL_BATCH_SIZE", "10")
    monkeypatch.setenv("HIGHLEVEL_WORKERS", "1")  # one batch in flight: the request count is exact
    catalog.n = 10

    report = sync(catalog, instance, vendors=("highlevel",))["highlevel"]

    assert (report.counts["queued"], report.counts["rejected"], report.counts["failed"]) == (9, 1, 0)
    # 10 refused -> 5 land + 5 refused -> 2 land + 3 refused -> 1 lands + 2 refused -> 1 lands + 1 refused:
    # 9 requests, against 1 for a batch that lands and 10 for one course a request.
    assert report.requests == highlevel(server)["counters"]["requests"] == 9
    bad = report.outcomes.set_index("course_id").loc["C009"]
    assert (bad["status"], int(bad["http_status"])) == ("rejected", 422)
    assert "'Course 9' is refused" in bad["error_message"]
    held = highlevel(server)["created_per_key"]
    assert sorted(held) == sorted(f"Course {i}" for i in range(9)) and set(held.values()) == {1}  # no re-send

    again = sync(catalog, instance, vendors=("highlevel",))["highlevel"]
    # The refused content is not sent again until it changes (sync.py: refused before): no request at all.
    assert (again.counts["unchanged"], again.counts["rejected"], again.requests) == (9, 1, 0)
    assert set(highlevel(server)["created_per_key"].values()) == {1}


def test_a_split_never_sends_again_what_may_have_landed(highlevel_sandbox, catalog, instance, monkeypatch):
    server = highlevel_sandbox(highlevel_refused_titles=("Course 9",))
    # The 2nd request of the split above is cut off after it was processed: the first half (C000 to C004)
    # is imported, and its answer lost.
    server.set_faults("highlevel", script=["none", "reset"])
    monkeypatch.setenv("HIGHLEVEL_BATCH_SIZE", "10")
    monkeypatch.setenv("HIGHLEVEL_WORKERS", "1")
    catalog.n = 10

    report = sync(catalog, instance, vendors=("highlevel",))["highlevel"]

    assert highlevel(server)["counters"]["faults"]["reset"] == 1
    statuses = report.outcomes.set_index("course_id")["status"].to_dict()
    assert [statuses[f"C{i:03d}"] for i in range(10)] == ["unknown"] * 5 + ["queued"] * 4 + ["rejected"]
    server.set_faults("highlevel")
    again = sync(catalog, instance, vendors=("highlevel",))["highlevel"]
    assert (again.counts["unknown"], again.counts["unchanged"], again.counts["rejected"]) == (5, 4, 1)
    assert again.requests == 0  # the bad one was refused before; the lost ones wait for `resolve`
    held = highlevel(server)["created_per_key"]
    assert sorted(held) == sorted(f"Course {i}" for i in range(9)) and set(held.values()) == {1}


def test_a_batch_larger_than_highlevel_takes_is_split_until_it_fits(highlevel_sandbox, catalog, instance,
                                                                   monkeypatch):
    server = highlevel_sandbox(highlevel_max_products=3)
    monkeypatch.setenv("HIGHLEVEL_BATCH_SIZE", "8")
    catalog.n = 16

    report = sync(catalog, instance, vendors=("highlevel",))["highlevel"]

    assert (report.counts["queued"], report.counts["rejected"], report.counts["failed"]) == (16, 0, 0)
    assert report.requests == 2 + 4 + 8  # two batches of 8, refused; their halves of 4, refused; 2s land
    held = highlevel(server)["created_per_key"]
    assert len(held) == 16 and set(held.values()) == {1}


def test_the_daily_quota_stops_highlevel_cleanly_and_the_rest_goes_in_the_next_run(
        highlevel_sandbox, catalog, instance, monkeypatch):
    clock = FakeClock()
    server = highlevel_sandbox(highlevel_daily_limit=3, clock=clock)
    monkeypatch.setenv("HIGHLEVEL_BATCH_SIZE", "2")  # 5 batches for 10 courses; default worker threads
    catalog.n = 10

    report = sync(catalog, instance, vendors=("highlevel",))["highlevel"]

    assert (report.counts["queued"], report.counts["failed"], report.counts["unknown"]) == (6, 4, 0)
    failed = report.outcomes[report.outcomes["status"] == "failed"]
    assert set(failed["error_code"]) == {"DAILY_QUOTA"} and set(failed["attempts"]) == {1}
    assert "daily request limit" in failed["error_message"].iloc[0]
    # Each batch is sent once at most: after the answer that said 0 left, nothing more goes; a batch already
    # under way when it came gets a 429 and is not retried.
    counters = highlevel(server)["counters"]
    assert counters["requests"] - counters["throttled"] == 3 and counters["requests"] <= 5
    notices = [e.user_message for e in instance.all_logs(report.run_id) if "daily request limit" in e.user_message]
    assert len(notices) == 1 and "4 items were not imported" in notices[0]

    clock.advance(86_400)  # the next day
    again = sync(catalog, instance, vendors=("highlevel",))["highlevel"]
    assert (again.counts["queued"], again.counts["unchanged"], again.counts["failed"]) == (4, 6, 0)
    assert again.requests == 2
    held = highlevel(server)["created_per_key"]
    assert len(held) == 10 and set(held.values()) == {1}


def test_a_burst_429_is_waited_out_by_the_rate_headers_without_retry_after(highlevel_sandbox, catalog, instance,
                                                                           monkeypatch):
    server = highlevel_sandbox(highlevel_rate_limit=3, highlevel_rate_window=0.4)
    monkeypatch.setenv("HIGHLEVEL_RATE_LIMIT", "100/1")  # faster than the sandbox lets through
    monkeypatch.setenv("HIGHLEVEL_BATCH_SIZE", "1")
    catalog.n = 9

    report = sync(catalog, instance, vendors=("highlevel",))["highlevel"]

    assert (report.counts["queued"], report.counts["failed"]) == (9, 0)
    assert report.counts["throttled"] > 0 and highlevel(server)["counters"]["throttled"] == report.counts["throttled"]
    assert set(highlevel(server)["created_per_key"].values()) == {1}


def test_an_import_is_queued_without_a_vendor_id_and_never_sent_again(env, catalog, instance, ledger):
    catalog.n = 5
    report = sync(catalog, instance, vendors=("highlevel",))["highlevel"]

    assert report.counts["queued"] == 5 and report.counts["created"] == 0
    assert report.outcomes["vendor_id"].isna().all()  # the 201's body is not documented: no id is taken from it
    states = ledger.states("highlevel", report.account)
    assert {s.status for s in states.values()} == {"queued"} and all(s.vendor_id is None for s in states.values())
    again = sync(catalog, instance, vendors=("highlevel",))["highlevel"]
    assert (again.counts["unchanged"], again.requests) == (5, 0)
