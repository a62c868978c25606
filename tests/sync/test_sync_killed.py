"""`course-pipeline sync` killed mid-load (a real SIGKILL of its process group) and run again: no
duplicate, no lost item."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sync_support import account_of, sync

BIN = Path(sys.executable).parent


@pytest.mark.timeout(180)
def test_killed_mid_load_then_rerun(catalog, env, instance, ledger, tmp_path):
    catalog.n = 60
    catalog.write()
    for vendor in ("highlevel", "kombo", "stackone", "thought_industries"):
        env.set_faults(vendor, latency_ms=250)
    home = tmp_path / "dagster_home"
    home.mkdir()
    process = subprocess.Popen([str(BIN / "course-pipeline"), "sync", str(catalog.sources_file)],
                               env={**os.environ, "DAGSTER_HOME": str(home)}, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 90
    try:  # kill once HighLevel has imported some batches but not all
        while time.monotonic() < deadline:
            if env.state()["vendors"]["highlevel"]["counters"]["requests"] >= 4:
                break
            assert process.poll() is None, process.stdout.read().decode()
            time.sleep(0.05)  # polling a subprocess we do not control: no clock to inject
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    highlevel = account_of("highlevel")
    assert any(s.status == "in_flight" for s in ledger.states("highlevel", highlevel).values())  # killed mid-send

    for vendor in ("highlevel", "kombo", "stackone", "thought_industries"):
        env.set_faults(vendor)
    reports = sync(catalog, instance)
    state = env.state()["vendors"]
    for vendor in ("kombo", "stackone", "thought_industries"):
        held = state[vendor]["created_per_key"]
        assert sorted(held) == [f"C{i:03d}" for i in range(60)] and set(held.values()) == {1}, vendor
        # What was in flight at the kill is re-sent and found there (or sent for the first time).
        landed = {"created", "updated", "reconciled"}
        assert {s.status for s in ledger.states(vendor, reports[vendor].account).values()} <= landed, vendor
    titles = {f"C{i:03d}": f"Course {i}" for i in range(60)}
    held = state["highlevel"]["created_per_key"]
    assert set(held.values()) == {1}  # no duplicate
    statuses = {cid: s.status for cid, s in ledger.states("highlevel", highlevel).items()}
    assert sorted(statuses) == sorted(titles)  # no item lost: each is created or, if in flight at the kill, unknown
    for cid, status in statuses.items():
        assert status in ("created", "unknown"), (cid, status)
        if status == "created":
            assert titles[cid] in held
    assert reports["highlevel"].counts["unknown"] == sum(1 for s in statuses.values() if s == "unknown") > 0
