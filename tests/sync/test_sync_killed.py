"""`course-pipeline sync` killed mid-load (a real SIGKILL of its process group), stopped by SIGTERM, or
run twice at once from two Dagster homes sharing one ledger: no duplicate, no lost item, and nothing
left behind that blocks the next sync."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sync_support import account_of, created

from course_pipeline.vendors import VENDOR_NAMES

BIN = Path(sys.executable).parent
PROJECT_HOME = Path(__file__).resolve().parents[2] / "dagster_home"


def project_home(path: Path) -> Path:
    """A Dagster home with the project's dagster.yaml: pools of one step per vendor, as `make demo` has."""
    path.mkdir()
    (path / "dagster.yaml").write_text((PROJECT_HOME / "dagster.yaml").read_text())
    return path


def start_sync(catalog, home: Path) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "course-pipeline"), "sync", str(catalog.sources_file)],
                            env={**os.environ, "DAGSTER_HOME": str(home)}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True, text=True)


def slow_vendors(catalog, env, n: int, latency_ms: int) -> None:
    """A catalog of n courses and vendors that each take latency_ms to answer, so a sync can be caught mid-way."""
    catalog.n = n
    catalog.write()
    for vendor in VENDOR_NAMES:
        env.set_faults(vendor, latency_ms=latency_ms)


def wait_for_requests(env, process, vendor: str, at_least: int) -> None:
    deadline = time.monotonic() + 90
    while env.state()["vendors"][vendor]["counters"]["requests"] < at_least:
        assert process.poll() is None, process.stdout.read()
        assert time.monotonic() < deadline, "the sync sent nothing"
        time.sleep(0.05)  # polling a subprocess we do not control: no clock to inject


def assert_each_course_once(env, ledger, n: int) -> None:
    state = env.state()["vendors"]
    ids = [f"C{i:03d}" for i in range(n)]
    for vendor in ("kombo", "stackone", "thought_industries"):
        held = state[vendor]["created_per_key"]
        assert sorted(held) == ids and set(held.values()) == {1}, vendor
        assert {s.status for s in ledger.states(vendor, account_of(vendor)).values()} <= {"created", "updated",
                                                                                   "reconciled"}
    assert set(state["highlevel"]["created_per_key"].values()) <= {1}  # HighLevel: never a duplicate


@pytest.mark.timeout(240)
def test_killed_mid_load_then_rerun_on_the_same_home_finishes_by_itself(catalog, env, ledger, tmp_path):
    slow_vendors(catalog, env, 60, 250)
    home = project_home(tmp_path / "dagster_home")
    process = start_sync(catalog, home)
    try:  # kill once HighLevel has imported some batches but not all
        wait_for_requests(env, process, "highlevel", 4)
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    highlevel = account_of("highlevel")
    in_flight = sum(s.status == "in_flight" for s in ledger.states("highlevel", highlevel).values())
    assert in_flight > 0  # killed mid-send

    for vendor in VENDOR_NAMES:
        env.set_faults(vendor)
    # The killed run still holds HighLevel's pool slot in this home: the rerun frees it and goes on.
    rerun = start_sync(catalog, home)
    out, _ = rerun.communicate(timeout=150)
    assert rerun.returncode == 1, out  # 1: HighLevel items in flight at the kill are held as unknown
    assert "died with its process" in out and "marked failed" in out
    assert_each_course_once(env, ledger, 60)
    titles = {f"C{i:03d}": f"Course {i}" for i in range(60)}
    statuses = {cid: s.status for cid, s in ledger.states("highlevel", highlevel).items()}
    assert sorted(statuses) == sorted(titles)  # no item lost: each is queued or, if in flight at the kill, unknown
    held = {c["body"]["title"] for c in env.state()["vendors"]["highlevel"]["courses"]}
    for cid, status in statuses.items():
        assert status in ("queued", "unknown"), (cid, status)
        if status == "queued":
            assert titles[cid] in held
    assert sum(1 for s in statuses.values() if s == "unknown") == in_flight  # only those in flight at the kill


@pytest.mark.timeout(240)
def test_sigterm_stops_a_sync_within_seconds_and_the_next_one_completes(catalog, env, ledger, tmp_path):
    slow_vendors(catalog, env, 60, 250)
    home = project_home(tmp_path / "dagster_home")
    process = start_sync(catalog, home)
    wait_for_requests(env, process, "highlevel", 3)
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=30)  # the grace is 10 s: a hang fails here
    assert process.returncode == 130, out
    assert "stopping (SIGTERM)" in out
    assert not any(s.status == "in_flight" for s in ledger.states("highlevel", account_of("highlevel")).values())

    for vendor in VENDOR_NAMES:
        env.set_faults(vendor)
    rerun = start_sync(catalog, home)
    out, _ = rerun.communicate(timeout=150)
    assert rerun.returncode == 0, out  # the stop let the batch in hand settle: nothing is unknown
    assert_each_course_once(env, ledger, 60)
    assert sorted(env.state()["vendors"]["highlevel"]["created_per_key"]) == sorted(f"Course {i}" for i in range(60))


@pytest.mark.timeout(240)
def test_two_dagster_homes_sharing_a_ledger_make_no_duplicate(catalog, env, ledger, tmp_path):
    slow_vendors(catalog, env, 40, 100)
    first, second = (start_sync(catalog, project_home(tmp_path / "home_a")),
                     start_sync(catalog, project_home(tmp_path / "home_b")))
    outs = [p.communicate(timeout=180)[0] for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outs
    assert_each_course_once(env, ledger, 40)
    assert sorted(env.state()["vendors"]["highlevel"]["created_per_key"]) == sorted(f"Course {i}" for i in range(40))
    # Each course was sent by one of the two: the other found it in the ledger, unchanged.
    summaries = ledger.run_summaries()
    for vendor in VENDOR_NAMES:
        runs = summaries[summaries["vendor"] == vendor]["counts"].tolist()
        assert len(runs) == 2 and sum(r[created(vendor)] for r in runs) == 40, (vendor, runs)
