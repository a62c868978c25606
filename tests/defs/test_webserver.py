"""The way people use it: the Dagster webserver and daemon on a free loopback port against a temporary
DAGSTER_HOME. A run launched through the GraphQL API (what the UI's Materialize button does), its
sync_report metadata read back as the UI shows it; then a backfill of three partitions, whose runs
queue and overlap, without a single 429 at the sandbox."""

from __future__ import annotations

import csv
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from course_pipeline.sandbox import SandboxConfig, SandboxServer

PROJECT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PARTITIONS = ["north", "south", "west"]
COURSES = 20
# The sandbox enforces these, and the clients are configured with the same: a 429 can only come from
# two runs talking to one vendor at once, which the vendor pools (dagster.yaml) must prevent.
LIMITS = {"highlevel": (10, 1.0), "stackone": (10, 1.0), "thought_industries": (10, 1.0)}


# The daemon as `dagster-daemon run` starts it, with one clock turned down: the backfill daemon looks at
# backfills every DEFAULT_DAEMON_INTERVAL_SECONDS (30 s, not configurable in dagster.yaml), so a backfill waited
# up to 30 s to be picked up and up to 30 s more, after its runs had all ended, to be marked completed. What
# the test proves (pools keep overlapping runs off each vendor's limit) does not depend on how often it looks.
# Should a Dagster release drop the name, the patch does nothing and the test is as slow as before, not wrong.
DAEMON = """
import dagster._daemon.controller as controller
controller.DEFAULT_DAEMON_INTERVAL_SECONDS = 2
from dagster._daemon.cli import main
main()
"""
# The queued-run coordinator's dequeue interval, also a poll: 1 s instead of the default 5 s. The project's
# dagster.yaml (its pools and run limit, which the test is about) is copied unchanged above this.
RUN_COORDINATOR = """
run_coordinator:
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator
  config:
    dequeue_interval_seconds: 1
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_catalogs(folder: Path) -> Path:
    entries = []
    for name in PARTITIONS:
        with (folder / f"{name}.csv").open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["course_id", "title", "course_url"])
            for i in range(COURSES):
                writer.writerow([f"{name}-{i}", f"{name.title()} course {i}", f"https://learn.example.com/{name}/{i}"])
        entries.append({"name": name, "format": "csv", "path": f"{name}.csv", "tables": {"courses": {}}})
    (folder / "sources.yaml").write_text(yaml.safe_dump({"sources": entries}))
    return folder / "sources.yaml"


class Dagster:
    def __init__(self, url: str, processes: list[subprocess.Popen]):
        self.url, self.processes = url, processes

    def query(self, query: str, variables: dict | None = None) -> dict:
        answer = requests.post(f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60)
        answer.raise_for_status()
        body = answer.json()
        assert "errors" not in body, body["errors"]
        return body["data"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("ui")
    home = root / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((PROJECT / "dagster_home" / "dagster.yaml").read_text() + RUN_COORDINATOR)
    sources_file = write_catalogs(root)
    config = SandboxConfig(**{f"{v}_rate_limit": n for v, (n, _) in LIMITS.items()},
                           **{f"{v}_rate_window": w for v, (_, w) in LIMITS.items()}, kombo_pending_seconds=0.2)
    with SandboxServer(config) as sandbox:
        env = {**os.environ, "DAGSTER_HOME": str(home), "COURSE_PIPELINE_SOURCES": str(sources_file),
               "COURSE_PIPELINE_LEDGER_URL": f"sqlite:///{root / 'ledger.db'}",
               "COURSE_PIPELINE_SANDBOX_URL": sandbox.url, "COURSE_PIPELINE_AUTOMATION": "stopped",
               **{f"{v.upper()}_RATE_LIMIT": f"{n}/{w:g}" for v, (n, w) in LIMITS.items()},
               "HIGHLEVEL_BATCH_SIZE": "5", "STACKONE_BATCH_SIZE": "5"}
        port = free_port()
        processes = [
            subprocess.Popen([str(BIN / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1",
                              "-p", str(port)], cwd=PROJECT, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True),
            subprocess.Popen([sys.executable, "-c", DAEMON, "run", "-w", "workspace.yaml"], cwd=PROJECT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True),
        ]
        dagster = Dagster(f"http://127.0.0.1:{port}", processes)
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if requests.get(f"{dagster.url}/server_info", timeout=2).ok:
                        break
                except requests.ConnectionError:
                    pass
                assert time.monotonic() < deadline, "the webserver did not start"
                time.sleep(0.5)
            yield dagster, sandbox, home
        finally:
            for process in processes:
                os.killpg(process.pid, signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)


def location_name(dagster: Dagster) -> str:
    data = dagster.query("{ workspaceOrError { ... on Workspace { locationEntries { name } } } }")
    (entry,) = data["workspaceOrError"]["locationEntries"]
    return entry["name"]


def add_partitions(home: Path) -> None:
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions("catalog_sources", PARTITIONS)


def observe_catalog(home: Path, partition: str, version: str) -> None:
    """What the sensor records when it sees a catalog: an observation whose data version is the hash."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.report_runless_asset_event(dg.AssetObservation(
            asset_key="catalog_file", partition=partition, tags={"dagster/data_version": version}))


def stale_status(dagster: Dagster, asset: str, partition: str) -> str:
    return dagster.query("""query($key: AssetKeyInput!, $p: String!) { assetNodeOrError(assetKey: $key) {
        ... on AssetNode { staleStatus(partition: $p) } } }""",
                         {"key": {"path": [asset]}, "p": partition})["assetNodeOrError"]["staleStatus"]


def wait_for_run(dagster: Dagster, run_id: str, timeout: float = 180) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = dagster.query("query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }",
                               {"id": run_id})["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            return status
        time.sleep(0.25)  # a GraphQL read of the run: cheap next to the run
    raise AssertionError(f"run {run_id} did not finish")


@pytest.mark.timeout(600)
def test_run_launched_through_graphql_shows_sync_report_metadata(stack):
    dagster, sandbox, home = stack
    add_partitions(home)
    observe_catalog(home, "north", "hash-1")
    launched = dagster.query("""
        mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
            __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }""",
        {"params": {"selector": {"repositoryLocationName": location_name(dagster), "repositoryName": "__repository__",
                                 "jobName": "sync_job"},
                    "executionMetadata": {"tags": [{"key": "dagster/partition", "value": "north"}]}}})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    assert wait_for_run(dagster, run_id) == "SUCCESS"
    times = dagster.query("query($id: ID!) { runOrError(runId: $id) { ... on Run { startTime endTime } } }",
                          {"id": run_id})["runOrError"]
    print(f"UI run of {COURSES} courses: {times['endTime'] - times['startTime']:.1f} s")  # a figure, not a test
    asset = dagster.query("""
        { assetOrError(assetKey: {path: ["sync_report"]}) { ... on Asset {
            assetMaterializations(partitions: ["north"], limit: 1) { runId partition metadataEntries {
                label __typename ... on IntMetadataEntry { intValue } ... on MarkdownMetadataEntry { mdStr } } } } } }
    """)["assetOrError"]["assetMaterializations"]
    (materialization,) = asset
    assert materialization["runId"] == run_id and materialization["partition"] == "north"
    entries = {e["label"]: e for e in materialization["metadataEntries"]}
    assert entries["dagster/row_count"]["intValue"] == 4 * COURSES
    assert entries["failed_or_unknown"]["intValue"] == 0
    assert "landed" in entries["state_by_vendor"]["mdStr"] and "data:image/png;base64," in entries["state_chart"]["mdStr"]
    # The checks as the UI lists them: one result per catalog partition.
    executions = dagster.query("""
        { assetCheckExecutions(assetKey: {path: ["highlevel_sync"]}, checkName: "no_failed_items", limit: 5) {
            runId evaluation { partition success metadataEntries { label } } } }""")["assetCheckExecutions"]
    (execution,) = [e for e in executions if e["runId"] == run_id]
    assert execution["evaluation"]["partition"] == "north" and execution["evaluation"]["success"]
    assert {"catalog", "courses"} <= {m["label"] for m in execution["evaluation"]["metadataEntries"]}

    # Data versions: the same catalog observed again leaves the assets fresh; a changed one makes them stale.
    assert stale_status(dagster, "raw_catalog", "north") == "FRESH"
    observe_catalog(home, "north", "hash-1")
    assert stale_status(dagster, "raw_catalog", "north") == "FRESH"
    observe_catalog(home, "north", "hash-2")
    assert stale_status(dagster, "raw_catalog", "north") == "STALE"


@pytest.mark.timeout(600)
def test_backfill_of_three_partitions_never_overlaps_a_vendor(stack):
    dagster, sandbox, home = stack
    add_partitions(home)
    keys = ["raw_catalog", "valid_catalog", "highlevel_payloads", "kombo_payloads", "stackone_payloads",
            "thought_industries_payloads", "highlevel_sync", "kombo_sync", "stackone_sync", "thought_industries_sync",
            "sync_report"]
    # The backfill's runs fork their step processes from a forkserver that has imported the definitions once,
    # instead of starting a fresh interpreter per step (~2 s each): still the multiprocess executor, one
    # process per step, the pools claimed across runs. The run launched in the test above keeps the default
    # (spawn), as the UI's Materialize button launches it.
    launched = dagster.query("""
        mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
            __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }""",
        {"params": {"partitionNames": PARTITIONS, "assetSelection": [{"path": [k]} for k in keys],
                    "runConfigData": {"execution": {"config": {"multiprocess": {"start_method": {"forkserver": {}}}}}}}}
    )["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    deadline = time.monotonic() + 500
    status = None
    while time.monotonic() < deadline:
        status = dagster.query("query($id: String!) { partitionBackfillOrError(backfillId: $id) { "
                               "... on PartitionBackfill { status } } }",
                               {"id": launched["backfillId"]})["partitionBackfillOrError"]["status"]
        if status not in ("REQUESTED",):
            break
        time.sleep(0.25)
    assert status in ("COMPLETED", "COMPLETED_SUCCESS"), status
    runs = dagster.query("""query($id: String!) { runsOrError(filter: {tags: [{key: "dagster/backfill", value: $id}]}) {
        ... on Runs { results { status startTime endTime } } } }""", {"id": launched["backfillId"]})
    runs = runs["runsOrError"]["results"]
    assert len(runs) == len(PARTITIONS) and {r["status"] for r in runs} == {"SUCCESS"}
    spans = sorted((r["startTime"], r["endTime"]) for r in runs)
    assert any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:], strict=False)), spans  # runs overlapped
    state = sandbox.state()["vendors"]
    for vendor in ("kombo", "stackone", "thought_industries"):
        assert len(state[vendor]["created_per_key"]) == COURSES * len(PARTITIONS), vendor
    for vendor in LIMITS:
        assert state[vendor]["counters"]["throttled"] == 0, vendor  # no 429 from overlapping runs
    assert set(state["highlevel"]["created_per_key"].values()) == {1}
