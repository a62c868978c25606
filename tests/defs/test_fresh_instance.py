"""First runs on a fresh Dagster home, started at the same moment by separate processes: Dagster creates its
SQLite tables when a home is first opened, and two processes doing so at once collided ("table runs already
exists", an IntegrityError on alembic_version) until local_instance made them take turns.

The children import everything first and say so; the test then releases them together with one line on their
stdin, so they race on opening the home itself, not on how fast they import (no sleeps)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import dagster as dg
from sync_support import created

from course_pipeline.defs.partitions import catalog_partitions

SYNC_CHILD = """
import sys
import course_pipeline.defs.runner  # Dagster imported before the start signal
from course_pipeline.cli import main
print("ready", flush=True)
sys.stdin.readline()
sys.exit(main(sys.argv[1:]))
"""

# Opens each home it is given, as every `course-pipeline sync` does first, and says how it went.
OPEN_CHILD = """
import os, sys
from course_pipeline.defs.runner import local_instance
print("ready", flush=True)
for line in sys.stdin:
    os.environ["DAGSTER_HOME"] = line.strip()
    try:
        local_instance().dispose()
        print("ok", flush=True)
    except Exception as exc:
        print(f"{type(exc).__name__}: {exc}".splitlines()[0], flush=True)
"""


def start(code: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
    child = subprocess.Popen([sys.executable, "-c", code, *args], env={**os.environ, **env}, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout.readline() == "ready\n", child.stderr.read()
    return child


def release(children: list[subprocess.Popen], line: str) -> None:
    for child in children:
        child.stdin.write(line + "\n")
        child.stdin.flush()


def test_two_syncs_started_together_on_a_fresh_home_both_run(env, catalog, tmp_path):
    sources_file = catalog.write()
    home = tmp_path / "fresh_home"  # nobody has opened it yet
    # Each its own ledger: what is shared, and raced on, is the Dagster home.
    # One vendor is enough to race on the home. Each child has its own ledger, so they meet at the sandbox:
    # StackOne's upsert by external reference takes the second's courses as its own.
    children = [start(SYNC_CHILD, ["sync", str(sources_file), "--json", "--vendor", "stackone"],
                      {"DAGSTER_HOME": str(home), "COURSE_PIPELINE_LEDGER_URL": f"sqlite:///{tmp_path}/ledger{i}.db"})
                for i in range(2)]
    release(children, "go")
    for child in children:
        out, err = child.communicate(timeout=600)
        assert child.returncode == 0, out + err[-3000:]
        assert "Traceback" not in err and "Error" not in err, err
        outcome = json.loads(out)
        assert outcome["failed_sources"] == {}
        landed = {v: c[created(v)] + c["reconciled"] for v, c in outcome["vendors"].items()}
        assert landed == dict.fromkeys(outcome["vendors"], 30)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_dynamic_partitions(catalog_partitions.name) == [catalog.name]
        runs = instance.get_runs()
        assert len(runs) == 2 and all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs)


def test_fresh_homes_opened_by_three_processes_at_once_never_collide(tmp_path):
    children = [start(OPEN_CHILD, [], {}) for _ in range(3)]
    answers = []
    try:
        for n in range(8):  # without the lock, most of these rounds had a process fail
            release(children, str(tmp_path / f"home{n}"))
            answers += [child.stdout.readline().strip() for child in children]
    finally:
        for child in children:
            child.stdin.close()
            child.wait(timeout=60)
    assert answers == ["ok"] * 24
