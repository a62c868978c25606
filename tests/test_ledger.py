"""The ledger's schema is Alembic's: a new ledger is made by the migrations, and a ledger written by the
first release (before migrations existed) upgrades in place with nothing lost."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

from course_pipeline.ledger import MIGRATIONS, Ledger

FIXTURE = Path(__file__).parent / "fixtures" / "ledger_v0.sql"


def head_revision() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


def test_a_ledger_of_the_first_release_upgrades_in_place(tmp_path):
    path = tmp_path / "ledger.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(FIXTURE.read_text())
    ledger = Ledger(f"sqlite:///{path}")
    try:
        states = ledger.states("highlevel", "loc-1")
        assert states["C1"].status == "created" and states["C1"].vendor_id == "hl-1"
        assert states["C2"].status == "unknown" and states["C2"].pending_hash == "h2"
        assert list(ledger.outcomes()["course_id"]) == ["C1", "C2"]
        assert ledger.load_window("highlevel", "loc-1") == [1700000000.0]
    finally:
        ledger.dispose()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(head_revision(),)]


def test_a_new_ledger_is_made_by_the_migrations_and_reopens_unchanged(tmp_path):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    Ledger(url).dispose()
    Ledger(url).dispose()  # opening again finds it at head: nothing to do, nothing fails
    with sqlite3.connect(tmp_path / "new.db") as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(head_revision(),)]
    assert {"sync_state", "sync_outcomes", "rate_windows", "alembic_version"} <= tables
