"""The deactivation guard, through the doors operators use (`course-pipeline plan` and `sync`): a catalog
cut short, or read empty, takes nothing down without a go-ahead scoped to one run."""

from __future__ import annotations

import json

import dagster as dg
import pytest
from sync_support import account_of, sync

from course_pipeline.catalog.sources import load_sources
from course_pipeline.cli import EXIT_HELD, EXIT_OK, main
from course_pipeline.defs.runner import run_sync

CAN_DEACTIVATE = ("kombo", "stackone", "thought_industries")


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))


def taken_down(env) -> dict[str, int]:
    """Courses each vendor holds inactive: Kombo's flag, StackOne's active:false, Thought Industries' archived."""
    state = env.state()["vendors"]
    return {"kombo": sum(not c["active"] for c in state["kombo"]["courses"]),
            "stackone": sum(c["body"].get("active") is False for c in state["stackone"]["courses"]),
            "thought_industries": sum(c["body"].get("publishedStatus") == "archived"
                                      for c in state["thought_industries"]["courses"])}


def run_cli(args, capsys) -> tuple[int, dict]:
    code = main([*args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_a_catalog_cut_to_3_of_30_deactivates_nothing_without_a_go_ahead(catalog, env, home, ledger, capsys):
    assert main(["sync", str(catalog.write())]) == EXIT_OK
    capsys.readouterr()
    catalog.dropped = {f"C{i:03d}" for i in range(3, 30)}
    catalog.write()

    code, planned = run_cli(["plan", str(catalog.sources_file)], capsys)  # the verdict before anything is sent
    assert code == EXIT_HELD
    for vendor in (*CAN_DEACTIVATE, "highlevel"):
        verdict = planned["deactivation_guard"]["shop"][vendor]
        assert "would take down 27 of the 30 courses of source 'shop'" in verdict
        assert "--allow-deactivations 27" in verdict

    code, held = run_cli(["sync", str(catalog.sources_file)], capsys)
    assert code == EXIT_HELD
    assert all(held["vendors"][v]["deactivated"] == 0 for v in CAN_DEACTIVATE)
    assert held["vendors"]["highlevel"]["orphaned"] == 0
    assert taken_down(env) == dict.fromkeys(CAN_DEACTIVATE, 0)
    assert {s.status for s in ledger.states("kombo", account_of("kombo")).values()} == {"created"}

    code, short = run_cli(["sync", str(catalog.sources_file), "--allow-deactivations", "26"], capsys)
    assert code == EXIT_HELD and "the go-ahead given allows 26, fewer than 27" in short["deactivation_guard"]["shop"][
        "kombo"]
    assert taken_down(env) == dict.fromkeys(CAN_DEACTIVATE, 0)

    code, done = run_cli(["sync", str(catalog.sources_file), "--allow-deactivations", "27"], capsys)
    assert code == EXIT_OK and not done["deactivation_guard"]
    assert all(done["vendors"][v]["deactivated"] == 27 for v in CAN_DEACTIVATE)
    assert done["vendors"]["highlevel"]["orphaned"] == 27
    assert taken_down(env) == dict.fromkeys(CAN_DEACTIVATE, 27)

    # The go-ahead was this run's only: a further cut is held again.
    catalog.dropped |= {"C000", "C001"}
    catalog.write()
    code, _ = run_cli(["sync", str(catalog.sources_file), "--vendor", "kombo"], capsys)
    assert code == EXIT_OK  # 2 of 3: within the limit (not more than 5)
    assert taken_down(env)["kombo"] == 29


def test_a_catalog_read_empty_takes_nothing_down_however_small(catalog, env, home, ledger, capsys):
    catalog.n = 4  # fewer than the limit's 5: only the empty read trips the guard
    main(["sync", str(catalog.write())])
    capsys.readouterr()
    catalog.dropped = {f"C{i:03d}" for i in range(4)}  # a header-only file
    catalog.write()
    code, out = run_cli(["sync", str(catalog.sources_file)], capsys)
    assert code == EXIT_HELD
    assert "the source read no courses" in out["deactivation_guard"]["shop"]["kombo"]
    assert taken_down(env) == dict.fromkeys(CAN_DEACTIVATE, 0)


def test_a_few_removals_within_the_limit_go_ahead(catalog, env, instance, ledger):
    sync(catalog, instance, vendors=("stackone",))
    catalog.dropped = {"C001", "C002", "C003", "C004", "C005"}  # 5 of 30: not more than 5
    report = sync(catalog, instance, vendors=("stackone",))["stackone"]
    assert report.counts["deactivated"] == 5


def test_the_guard_check_fails_in_dagster_with_the_verdict(catalog, env, instance, ledger):
    sync(catalog, instance, vendors=("stackone",))
    catalog.dropped = {f"C{i:03d}" for i in range(10, 30)}
    catalog.write()
    outcome = run_sync(catalog.sources_file, load_sources(catalog.sources_file), ["stackone"], instance=instance)
    checks = {e.check_name: e for e in outcome.runs["shop"].get_asset_check_evaluations()}
    guard = checks["deactivation_guard"]
    assert not guard.passed and guard.severity == dg.AssetCheckSeverity.ERROR
    assert "would take down 20 of the 30 courses" in guard.metadata["verdict"].value
    assert outcome.guarded == {"shop": {"stackone": guard.metadata["verdict"].value}}
