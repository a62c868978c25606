"""The account lock in the ledger's database: one sync per vendor account at a time, across processes and
Dagster homes, released when its holder dies. On SQLite (a file lock beside the database) and, where the
machine runs one, PostgreSQL (an advisory lock)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, text

from course_pipeline.ledger import Ledger
from course_pipeline.locks import AccountBusy

POSTGRES_URL = os.environ.get("COURSE_PIPELINE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _postgres_reason() -> str | None:
    try:
        engine = create_engine(POSTGRES_URL)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # no driver, no server: say which
        return f"PostgreSQL not reachable at {POSTGRES_URL}: {type(exc).__name__}"
    return None


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    reason = _postgres_reason()
    if reason:
        pytest.skip(reason)
    return POSTGRES_URL


def test_a_second_holder_of_the_same_account_waits_then_gives_up_naming_the_first(url):
    first, second = Ledger(url), Ledger(url)  # two processes' worth of connections
    told = []
    try:
        with first.hold("kombo", "acct-1", run_id="run-a", source="shop"):
            with pytest.raises(AccountBusy, match=r"kombo account acct-1 is being synced by run run-a "
                                                  r"\(source shop, pid \d+"):
                with second.hold("kombo", "acct-1", run_id="run-b", source="shop", notify=told.append, timeout=0.3,
                                 poll=0.1):
                    pass
            assert told and told[0].startswith("waiting for kombo account acct-1: run run-a")
            with second.hold("kombo", "acct-2", run_id="run-b", source="shop", timeout=0):  # another account: free
                pass
            with pytest.raises(AccountBusy, match="run run-a"):  # no one settles items while a sync runs
                second.resolve("kombo", "acct-1", "C001", landed=False)
            with second.hold("stackone", "acct-1", run_id="run-b", source="shop", timeout=0):  # another vendor: free
                pass
        with second.hold("kombo", "acct-1", run_id="run-b", source="shop", timeout=0):  # released at the block's end
            assert second.lock_holder("kombo", "acct-1").startswith("run run-b")
        assert second.lock_holder("kombo", "acct-1") is None
    finally:
        first.dispose()
        second.dispose()


HOLDER = """
import sys
from course_pipeline.ledger import Ledger
with Ledger(sys.argv[1]).hold("highlevel", "loc-1", run_id="doomed", source="shop"):
    print("held", flush=True)
    sys.stdin.read()  # until killed
"""


def test_a_holder_killed_with_sigkill_leaves_no_lock_behind(url):
    process = subprocess.Popen([sys.executable, "-c", HOLDER, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True)
    ledger = Ledger(url)
    try:
        assert process.stdout.readline().strip() == "held"
        with pytest.raises(AccountBusy, match="run doomed"):
            with ledger.hold("highlevel", "loc-1", run_id="next", source="shop", timeout=0):
                pass
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        with ledger.hold("highlevel", "loc-1", run_id="next", source="shop", timeout=5, poll=0.05):
            assert ledger.lock_holder("highlevel", "loc-1").startswith("run next")
    finally:
        process.kill()
        process.wait()
        ledger.dispose()
