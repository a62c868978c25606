"""course-pipeline plan --diff: per course and vendor the fields a sync would change, old → new, from the body
the ledger keeps of what landed (every vendor); and the same in the UI's dry run (`changes` metadata)."""

from __future__ import annotations

import json

import dagster as dg
import pytest
from sqlalchemy import update
from sync_support import sync

from course_pipeline.catalog.sources import load_sources
from course_pipeline.cli import main
from course_pipeline.defs.runner import run_sync
from course_pipeline.defs.sync_assets import sync_asset_key
from course_pipeline.ledger import sync_state
from course_pipeline.vendors import VENDOR_NAMES

# HighLevel's importer cannot update: a changed course is a reject (UPDATE_NOT_SUPPORTED), not a change.
UPDATING = tuple(v for v in VENDOR_NAMES if v != "highlevel")


@pytest.fixture
def home(env, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    return env


def plan_diff(catalog, capsys, *extra: str) -> tuple[int, str]:
    code = main(["plan", str(catalog.write()), "--diff", *extra])
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    return code, out


def change_lines(out: str) -> list[list[str]]:
    """The rows of the changes table: vendor, course, action, change."""
    lines = out.split("\nchanges (", 1)[1].splitlines()[3:]  # the count, the header, its rule
    return [line.split(None, 3) for line in lines if line.strip()]


def test_plan_diff_shows_a_changed_title_at_each_vendor_and_nothing_else(catalog, home, capsys):
    catalog.n = 6
    assert main(["sync", str(catalog.write())]) == 0
    capsys.readouterr()

    code, out = plan_diff(catalog, capsys)
    assert code == 0 and "changes: none" in out  # synced: nothing would change

    catalog.changed = {"C002": "Course 2, revised"}
    code, out = plan_diff(catalog, capsys)
    assert code == 0
    rows = change_lines(out)
    # Each vendor's own field for the title (Kombo's is course.title); Thought Industries' slug, made from the
    # title, changes with it: a surprise the diff is there to show. HighLevel cannot update (rejected, counted).
    assert sorted(tuple(row) for row in rows) == [
        ("kombo", "C002", "update", "course.title: Course 2 → Course 2, revised"),
        ("stackone", "C002", "update", "title: Course 2 → Course 2, revised"),
        ("thought_industries", "C002", "update", "slug: course-2 → course-2-revised"),
        ("thought_industries", "C002", "update", "title: Course 2 → Course 2, revised")]
    assert "C001" not in out.split("\nchanges (", 1)[1]

    code = main(["plan", str(catalog.sources_file), "--diff", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and {(r["vendor"], r["source"], r["course_id"], r["action"], r["field"], r["old"], r["new"])
                          for r in doc["changes"]} == {
        ("kombo", "shop", "C002", "update", "course.title", "Course 2", "Course 2, revised"),
        ("stackone", "shop", "C002", "update", "title", "Course 2", "Course 2, revised"),
        ("thought_industries", "shop", "C002", "update", "slug", "course-2", "course-2-revised"),
        ("thought_industries", "shop", "C002", "update", "title", "Course 2", "Course 2, revised")}
    code = main(["plan", str(catalog.sources_file), "--json"])
    assert "changes" not in json.loads(capsys.readouterr().out)  # only when asked


def test_a_create_is_one_row_and_a_long_value_is_cut(catalog, home, capsys):
    catalog.n = 3
    assert main(["sync", str(catalog.write()), "--vendor", "kombo"]) == 0
    capsys.readouterr()
    catalog.n = 4  # C003 is new
    catalog.changed = {"C001": "A much longer title " * 5}
    code, out = plan_diff(catalog, capsys, "--vendor", "kombo")
    assert code == 0
    rows = {(c, a): ch for _, c, a, ch in change_lines(out)}
    assert rows[("C003", "create")] == "new course: every field"
    title = rows[("C001", "update")]
    assert title.startswith("course.title: Course 1 → A much longer title") and title.endswith("…")
    assert len(title.split(" → ", 1)[1]) == 60  # cut to 60 characters, the ellipsis included
    assert set(rows) == {("C003", "create"), ("C001", "update")}


def test_a_course_landed_before_bodies_were_kept_diffs_from_not_recorded(catalog, home, ledger, capsys):
    catalog.n = 2
    assert main(["sync", str(catalog.write()), "--vendor", "kombo"]) == 0
    capsys.readouterr()
    with ledger.engine.begin() as conn:  # as the ledger of a release that kept no Kombo bodies left it
        conn.execute(update(sync_state).values(payload_json=None))
    catalog.changed = {"C000": "Renamed"}
    code = main(["plan", str(catalog.write()), "--vendor", "kombo", "--diff", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and {r["course_id"] for r in doc["changes"]} == {"C000"}
    assert {r["old"] for r in doc["changes"]} == {"(not recorded)"}
    course = next(r for r in doc["changes"] if r["field"] == "course")["new"]  # Kombo's top-level fields
    assert course["title"] == "Renamed"


def test_sync_diff_needs_a_dry_run(catalog, home, capsys):
    assert main(["sync", str(catalog.write()), "--diff"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "plan --diff" in err and len(err.strip().splitlines()) == 1
    assert home.state()["vendors"]["kombo"]["counters"]["requests"] == 0  # nothing was sent


def test_the_ui_dry_run_shows_the_changes_as_metadata(catalog, env, instance, capsys):
    catalog.n = 3
    sync(catalog, instance, vendors=("stackone",))
    catalog.changed = {"C000": "New name"}
    catalog.write()
    with dg.DagsterInstance.ephemeral() as dry:
        outcome = run_sync(catalog.sources_file, load_sources(catalog.sources_file), ["stackone"], instance=dry,
                           dry_run=True)
        (event,) = outcome.runs["shop"].asset_materializations_for_node(sync_asset_key("stackone"))
    markdown = event.metadata["changes"].value
    assert "| stackone | C000     | update   | title: Course 0 → New name |" in markdown
    assert "C001" not in markdown


def test_a_take_down_and_a_course_brought_back_as_it_was(catalog, home, capsys):
    catalog.n = 3
    assert main(["sync", str(catalog.write()), "--vendor", "kombo"]) == 0
    catalog.dropped = {"C002"}
    capsys.readouterr()
    _, out = plan_diff(catalog, capsys, "--vendor", "kombo")
    assert change_lines(out) == [["kombo", "C002", "deactivate", "taken down: gone from the catalog"]]
    assert main(["sync", str(catalog.write()), "--vendor", "kombo"]) == 0
    catalog.dropped = set()
    capsys.readouterr()
    _, out = plan_diff(catalog, capsys, "--vendor", "kombo")  # the body Kombo holds, but deactivated there
    assert change_lines(out) == [["kombo", "C002", "update", "no field changes: sent again (last outcome "
                                                               "deactivated)"]]
