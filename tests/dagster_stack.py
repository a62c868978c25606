"""Helpers for the tests that run Dagster as people run it: the webserver, the daemon (and celery workers) as
separate OS processes on a free loopback port, each in a session of its own so that it and everything it
started can be stopped together, even when the test fails; and the GraphQL calls the UI makes."""

from __future__ import annotations

import csv
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
import yaml

from course_pipeline.sandbox import SandboxConfig

PROJECT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# The daemon as `dagster-daemon run` starts it, with one clock turned down: the backfill daemon looks at
# backfills every DEFAULT_DAEMON_INTERVAL_SECONDS (30 s, not configurable in dagster.yaml), so a backfill waited
# up to 30 s to be picked up and up to 30 s more, after its runs had all ended, to be marked completed. What
# the tests prove does not depend on how often it looks. Should a Dagster release drop the name, the patch
# does nothing and the tests are as slow as before, not wrong.
DAEMON = """
import dagster._daemon.controller as controller
controller.DEFAULT_DAEMON_INTERVAL_SECONDS = 2
from dagster._daemon.cli import main
main()
"""
# The queued-run coordinator's dequeue interval, also a poll: 1 s instead of the default 5 s. The instance's
# own dagster.yaml (its pools and run limit, which the tests are about) is copied unchanged above this.
RUN_COORDINATOR = """
run_coordinator:
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator
  config:
    dequeue_interval_seconds: 1
"""
FINISHED = ("SUCCESS", "FAILURE", "CANCELED")
# The sandbox enforces these, and the clients are configured with the same: a 429 can only come from two
# runs talking to one vendor account at once, which the vendor pools (dagster.yaml) must prevent.
LIMITS = {"highlevel": (10, 1.0), "stackone": (10, 1.0), "thought_industries": (10, 1.0)}


def limited_sandbox_config() -> SandboxConfig:
    return SandboxConfig(**{f"{v}_rate_limit": n for v, (n, _) in LIMITS.items()},
                         **{f"{v}_rate_window": w for v, (_, w) in LIMITS.items()}, kombo_pending_seconds=0.2)


def limited_env() -> dict[str, str]:
    """The clients' side of LIMITS, and small batches so that a sync makes several requests."""
    return {**{f"{v.upper()}_RATE_LIMIT": f"{n}/{w:g}" for v, (n, w) in LIMITS.items()},
            "HIGHLEVEL_BATCH_SIZE": "5", "STACKONE_BATCH_SIZE": "5"}


def write_catalogs(folder: Path, partitions: list[str], courses: int) -> Path:
    """One courses-only CSV source per partition, `courses` courses each (ids `<partition>-<i>`); sources.yaml."""
    entries = []
    for name in partitions:
        with (folder / f"{name}.csv").open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["course_id", "title", "course_url"])
            for i in range(courses):
                writer.writerow([f"{name}-{i}", f"{name.title()} course {i}", f"https://learn.example.com/{name}/{i}"])
        entries.append({"name": name, "format": "csv", "path": f"{name}.csv", "tables": {"courses": {}}})
    (folder / "sources.yaml").write_text(yaml.safe_dump({"sources": entries}))
    return folder / "sources.yaml"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(args: list[str], env: dict[str, str], log: Path | None = None) -> subprocess.Popen:
    """A process in a session of its own (its group is its pid), from the project's folder; its output to
    `log`, else nowhere."""
    out = log.open("wb") if log else subprocess.DEVNULL
    try:
        return subprocess.Popen(args, cwd=PROJECT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    finally:
        if log:
            out.close()


def stop(processes: list[subprocess.Popen]) -> None:
    """SIGTERM to each process group, then SIGKILL to those still there after 30 s."""
    for process in processes:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def start_webserver_and_daemon(env: dict[str, str], logs: Path | None = None,
                               workspace: Path | str = "workspace.yaml") -> tuple[Dagster, list]:
    """dagster-webserver on a free loopback port and the daemon (the project's workspace.yaml, which loads the
    code in a code server of each's own, or another), once the webserver answers."""
    port = free_port()
    processes = [
        start([str(BIN / "dagster-webserver"), "-w", str(workspace), "-h", "127.0.0.1", "-p", str(port)], env,
              logs / "webserver.log" if logs else None),
        start([sys.executable, "-c", DAEMON, "run", "-w", str(workspace)], env,
              logs / "daemon.log" if logs else None),
    ]
    dagster = Dagster(f"http://127.0.0.1:{port}", processes)
    try:
        dagster.wait_until_serving()
    except BaseException:
        stop(processes)
        raise
    return dagster, processes


class Dagster:
    def __init__(self, url: str, processes: list[subprocess.Popen]):
        self.url, self.processes = url, processes

    def wait_until_serving(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if requests.get(f"{self.url}/server_info", timeout=2).ok:
                    return
            except requests.ConnectionError:
                pass
            dead = [p.args[0] for p in self.processes if p.poll() is not None]
            assert not dead, f"{dead} exited before the webserver answered"
            assert time.monotonic() < deadline, "the webserver did not start"
            time.sleep(0.5)  # a poll of the port, not a wait for something to happen

    def query(self, query: str, variables: dict | None = None) -> dict:
        answer = requests.post(f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60)
        assert answer.ok, f"{answer.status_code} from the webserver: {answer.text[:2000]}"
        body = answer.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    def location_name(self) -> str:
        data = self.query("{ workspaceOrError { ... on Workspace { locationEntries { name } } } }")
        (entry,) = data["workspaceOrError"]["locationEntries"]
        return entry["name"]

    def launch_run(self, job: str, partition: str) -> str:
        """What the UI's Materialize button does for one partition of a job: the run's id."""
        launched = self.query("""
            mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
                __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }""",
            {"params": {"selector": {"repositoryLocationName": self.location_name(),
                                     "repositoryName": "__repository__", "jobName": job},
                        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": partition}]}}}
        )["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        return launched["run"]["runId"]

    def run_status(self, run_id: str) -> str:
        return self.query("query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }",
                          {"id": run_id})["runOrError"]["status"]

    def wait_for_run(self, run_id: str, timeout: float = 180) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.run_status(run_id)
            if status in FINISHED:
                return status
            time.sleep(0.25)  # a GraphQL read of the run: cheap next to the run
        raise AssertionError(f"run {run_id} did not finish")
