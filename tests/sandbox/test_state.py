"""Inspection, reset, the server's lifecycle and the foreground runner."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

import pytest
import requests
from starlette.applications import Starlette

from course_pipeline.sandbox import SANDBOX_TOKENS, SIMULATED_VENDORS, SandboxServer, create_app

from .test_faults import CREATES, create
from .test_highlevel import refresh


def test_create_app_is_a_starlette_app():
    assert isinstance(create_app(), Starlette)


def test_base_urls_differ_from_production_only_in_the_host(sandbox):
    assert sandbox.base_urls == {
        "highlevel": f"{sandbox.url}/highlevel",
        "kombo": f"{sandbox.url}/kombo/v1",
        "stackone": f"{sandbox.url}/stackone",
        "thought_industries": f"{sandbox.url}/thoughtindustries",
    }
    assert sandbox.url.startswith("http://127.0.0.1:")


def test_state_shows_courses_keys_and_counters_of_every_vendor(sandbox, connect):
    for vendor in SIMULATED_VENDORS:
        api = connect(sandbox, vendor)
        assert create(api, vendor).status_code in (200, 201, 202)
        api.get("/no/such/path")

    state = sandbox.state()

    assert set(state["vendors"]) == set(SIMULATED_VENDORS)
    for vendor, (_, _, key) in CREATES.items():
        held = state["vendors"][vendor]
        assert held["counters"] == {"requests": 2, "throttled": 0,
                                    "faults": {"500": 0, "429": 0, "reset": 0, "slow": 0}}
        assert held["duplicates"] == 0
        if vendor != "kombo":  # Kombo's task is still pending
            assert held["created_per_key"] == {key: 1}
            assert [c["external_key"] for c in held["courses"]] == [key]
            assert {"id", "external_key", "body"} <= set(held["courses"][0])


def test_reset_empties_everything(sandbox, connect):
    api = connect(sandbox, "thought_industries")
    create(api, "thought_industries")
    refresh(connect(sandbox, "highlevel"), SANDBOX_TOKENS["highlevel_refresh_token"])

    sandbox.reset()

    for vendor, held in sandbox.state()["vendors"].items():
        assert held["courses"] == [] and held["created_per_key"] == {} and held["duplicates"] == 0, vendor
        assert held["counters"]["requests"] == 0, vendor
    # The initial refresh token, spent before the reset, works again.
    assert refresh(connect(sandbox, "highlevel"), SANDBOX_TOKENS["highlevel_refresh_token"]).status_code == 200


def test_control_endpoints_are_not_counted_or_limited(sandbox):
    for _ in range(20):
        sandbox.state()

    assert all(held["counters"]["requests"] == 0 for held in sandbox.state()["vendors"].values())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_server_stops_without_leaking_its_thread_or_port():
    threads_before = set(threading.enumerate())
    server = SandboxServer().start()
    url = server.url
    assert requests.get(f"{url}/_sandbox/state", timeout=5).status_code == 200

    server.stop()

    assert set(threading.enumerate()) <= threads_before
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/_sandbox/state", timeout=5)


def test_two_servers_run_side_by_side_with_separate_state(make_sandbox, connect):
    one, two = make_sandbox(), make_sandbox()

    create(connect(one, "stackone"), "stackone")

    assert one.port != two.port
    assert one.state()["vendors"]["stackone"]["created_per_key"] == {"course-1": 1}
    assert two.state()["vendors"]["stackone"]["created_per_key"] == {}


def test_given_port_is_used():
    port = _free_port()
    with SandboxServer(port=port) as server:
        assert server.url == f"http://127.0.0.1:{port}"
        assert requests.get(f"{server.url}/_sandbox/state", timeout=5).ok


def test_foreground_runner_prints_urls_and_tokens_and_serves():
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "course_pipeline.sandbox", "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                state = requests.get(f"http://127.0.0.1:{port}/_sandbox/state", timeout=1).json()
                break
            except requests.ConnectionError:
                assert process.poll() is None and time.monotonic() < deadline, "the sandbox did not come up"
                time.sleep(0.05)
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)

    assert set(state["vendors"]) == set(SIMULATED_VENDORS)
    assert f"http://127.0.0.1:{port}/kombo/v1" in output
    assert f"http://127.0.0.1:{port}/thoughtindustries" in output
    assert all(value in output for value in SANDBOX_TOKENS.values())
