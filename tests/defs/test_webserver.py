"""The way people use it: the Dagster webserver and daemon on a free loopback port against a temporary
DAGSTER_HOME. A run launched through the GraphQL API (what the UI's Materialize button does), its
sync_report metadata read back as the UI shows it; then a backfill of three partitions, whose runs
queue and overlap, without a single 429 at the sandbox."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from dagster_stack import (
    LIMITS,
    PROJECT,
    RUN_COORDINATOR,
    Dagster,
    limited_env,
    limited_sandbox_config,
    start_webserver_and_daemon,
    stop,
    write_catalogs,
)

from course_pipeline.sandbox import SandboxServer

PARTITIONS = ["north", "south", "west"]
COURSES = 20


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("ui")
    home = root / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((PROJECT / "dagster_home" / "dagster.yaml").read_text() + RUN_COORDINATOR)
    sources_file = write_catalogs(root, PARTITIONS, COURSES)
    with SandboxServer(limited_sandbox_config()) as sandbox:
        env = {**os.environ, "DAGSTER_HOME": str(home), "COURSE_PIPELINE_SOURCES": str(sources_file),
               "COURSE_PIPELINE_LEDGER_URL": f"sqlite:///{root / 'ledger.db'}",
               "COURSE_PIPELINE_SANDBOX_URL": sandbox.url, "COURSE_PIPELINE_AUTOMATION": "stopped", **limited_env()}
        dagster, processes = start_webserver_and_daemon(env)
        try:
            yield dagster, sandbox, home
        finally:
            stop(processes)


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


@pytest.mark.timeout(600)
def test_run_launched_through_graphql_shows_sync_report_metadata(stack):
    dagster, sandbox, home = stack
    add_partitions(home)
    observe_catalog(home, "north", "hash-1")
    run_id = dagster.launch_run("sync_job", "north")
    assert dagster.wait_for_run(run_id) == "SUCCESS"
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
