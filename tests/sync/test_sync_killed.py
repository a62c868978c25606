"""A sync killed mid-load (a real SIGKILL of the process) and run again: no duplicate, no lost item."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sync_support import env_for, sync_all

SYNC_SCRIPT = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, os.environ["TESTS_DIR"])
    from sync_support import Catalog, sync_all
    from course_pipeline.ledger import Ledger
    from pathlib import Path
    catalog = Catalog(Path(os.environ["CATALOG_DIR"]), n=int(os.environ["COURSES"]))
    ledger = Ledger(os.environ["LEDGER_URL"])
    env = {k: v for k, v in os.environ.items()}
    sync_all(catalog.validated(), ledger, env)
""")


@pytest.mark.timeout(180)
def test_killed_mid_load_then_rerun(catalog, sandbox, ledger, tmp_path):
    catalog.n = 60
    catalog.write()
    for vendor in ("highlevel", "kombo", "stackone", "thought_industries"):
        sandbox.set_faults(vendor, latency_ms=250)
    env = {**os.environ, **env_for(sandbox), "TESTS_DIR": str(Path(__file__).resolve().parents[1]),
           "CATALOG_DIR": str(catalog.folder), "COURSES": "60", "LEDGER_URL": ledger.url}
    process = subprocess.Popen([sys.executable, "-c", SYNC_SCRIPT], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    try:  # kill once HighLevel has imported some batches but not all
        while time.monotonic() < deadline:
            if sandbox.state()["vendors"]["highlevel"]["counters"]["requests"] >= 4:
                break
            assert process.poll() is None, process.stdout.read().decode()
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    highlevel_states = ledger.states("highlevel", "sandbox-location-1")
    assert any(s.status == "in_flight" for s in highlevel_states.values())  # killed with requests in flight

    for vendor in ("highlevel", "kombo", "stackone", "thought_industries"):
        sandbox.set_faults(vendor)
    reports = sync_all(catalog.validated(), ledger, env_for(sandbox))
    state = sandbox.state()["vendors"]
    for vendor in ("kombo", "stackone", "thought_industries"):
        held = state[vendor]["created_per_key"]
        assert sorted(held) == [f"C{i:03d}" for i in range(60)] and set(held.values()) == {1}, vendor
        assert {s.status for s in ledger.states(vendor, reports[vendor].account).values()} <= {"created", "updated"}
    titles = {f"C{i:03d}": f"Course {i}" for i in range(60)}
    held = state["highlevel"]["created_per_key"]
    assert set(held.values()) == {1}  # no duplicate
    statuses = {cid: s.status for cid, s in ledger.states("highlevel", "sandbox-location-1").items()}
    assert sorted(statuses) == sorted(titles)  # no item lost: each is created or, if in flight at the kill, unknown
    for cid, status in statuses.items():
        assert status in ("created", "unknown"), (cid, status)
        if status == "created":
            assert titles[cid] in held
    assert reports["highlevel"].counts()["unknown"] == sum(1 for s in statuses.values() if s == "unknown") > 0
