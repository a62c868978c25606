"""The sync ledger: what each vendor holds of ours, and what happened to every item in every run.

SQLAlchemy Core; SQLite `ledger.db` in the project's state folder by default (paths.py: the same
wherever a command runs), any SQLAlchemy URL through COURSE_PIPELINE_LEDGER_URL (PostgreSQL works
unchanged: only portable types and statements). The schema is Alembic's (course_pipeline/migrations):
opening a ledger upgrades it in place, a ledger made before migrations existed included.

- sync_state: one row per (vendor, account, course): the vendor's id, the hash of the payload it
  holds, the last status, and the landed payload itself (what `plan --diff` compares with; Thought
  Industries' update and StackOne's deactivation need it too).
  Written ahead: a row is `in_flight` (with the hash being sent) before the request goes out and
  settled after, so a run that dies leaves rows the next run reconciles instead of guessing.
- sync_outcomes: one row per item a run changed or could not settle (an unchanged item writes none):
  action, status, HTTP status, error, attempts, vendor id, payload hash, the source row it came from,
  the run, start and end. Also the record of which payloads got an answer (answered_sends: Kombo's
  re-send marker counts on it), so it is history to keep, not a log to prune.
- sync_runs: one summary row per sync step (vendor, account, source): its counts, unchanged included.
- sync_locks: who holds each account's sync lock (locks.py holds the lock itself).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    and_,
    bindparam,
    create_engine,
    event,
    func,
    insert,
    inspect,
    make_url,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError

from .locks import AccountBusy, account_lock
from .paths import state_dir

LEDGER_URL_ENV = "COURSE_PIPELINE_LEDGER_URL"
MIGRATIONS = Path(__file__).parent / "migrations"
FIRST_REVISION = "0001"  # the schema the first release made with create_all

IN_FLIGHT = "in_flight"  # the status of an item between its write-ahead mark and its settlement

metadata = MetaData()

sync_state = Table(
    "sync_state", metadata,
    Column("vendor", String(40), primary_key=True),
    Column("account", String(255), primary_key=True),
    Column("course_id", String(255), primary_key=True),
    Column("source", String(255), nullable=False),
    Column("vendor_id", String(255)),
    Column("payload_hash", String(64)),  # what the vendor holds (None: nothing of ours yet)
    Column("pending_hash", String(64)),  # what is being sent (write-ahead)
    Column("payload_json", LargeBinary),  # the landed body (None: landed before bodies were kept for its vendor)
    Column("status", String(20), nullable=False),
    Column("run_id", String(64)),
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
)

sync_outcomes = Table(
    "sync_outcomes", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(64), nullable=False),
    Column("vendor", String(40), nullable=False),
    Column("account", String(255), nullable=False),
    Column("course_id", String(255), nullable=False),
    Column("source", String(255)),
    Column("action", String(20), nullable=False),  # create | update | none | deactivate | reject
    Column("status", String(20), nullable=False),
    Column("http_status", Integer),
    Column("error_code", String(120)),
    Column("error_message", Text),
    Column("attempts", Integer, nullable=False, default=0),
    Column("vendor_id", String(255)),
    Column("payload_hash", String(64)),
    Column("source_file", String(255)),
    Column("source_sheet", String(1000)),
    Column("source_row", Integer),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Index("ix_outcomes_run", "run_id"),
    Index("ix_outcomes_item", "vendor", "account", "course_id"),
)

rate_windows = Table(
    "rate_windows", metadata,
    Column("vendor", String(40), primary_key=True),
    Column("account", String(255), primary_key=True),
    Column("sent_at", Text, nullable=False),  # JSON list of epoch seconds: the last window's sends
)

sync_locks = Table(
    "sync_locks", metadata,
    Column("vendor", String(40), primary_key=True),
    Column("account", String(255), primary_key=True),
    Column("holder", Text, nullable=False),  # who syncs the account now: run, source, pid, host
    Column("since", DateTime(timezone=True), nullable=False),
)

sync_runs = Table(
    "sync_runs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(64), nullable=False),
    Column("vendor", String(40), nullable=False),
    Column("account", String(255), nullable=False),
    Column("source", String(255), nullable=False),
    Column("counts", Text, nullable=False),  # JSON: outcome counts, requests, held deactivations
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Index("ix_sync_runs_run", "run_id"),
)

OUTCOME_COLUMNS = [c.name for c in sync_outcomes.columns if c.name != "id"]
LOCK_WAIT_SECONDS = 1800.0  # how long a sync waits for another to finish with the same account


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def ledger_url() -> str:
    """COURSE_PIPELINE_LEDGER_URL, else SQLite in the project's state folder (never the working directory)."""
    url = os.environ.get(LEDGER_URL_ENV)
    if url:
        return url
    folder = state_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'ledger.db'}"


def describe_url(url: str) -> str:
    """The ledger's location as a person reads it, with any password left out."""
    parsed = make_url(url)
    return parsed.database if parsed.get_backend_name() == "sqlite" else parsed.render_as_string(hide_password=True)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision. A ledger made before migrations existed (tables, no
    alembic_version) is stamped with the first revision, then upgraded. Two processes opening a new
    ledger at once may race on the first revision; the loser finds it done and goes on."""
    for attempt in range(3):
        try:
            with engine.begin() as conn:
                config = AlembicConfig()
                config.set_main_option("script_location", str(MIGRATIONS))
                config.attributes["connection"] = conn
                current = MigrationContext.configure(conn).get_current_revision()
                if current is None and inspect(conn).has_table("sync_state"):
                    command.stamp(config, FIRST_REVISION)
                command.upgrade(config, "head")
            return
        except DBAPIError:
            if attempt == 2:
                raise


@dataclass(frozen=True)
class State:
    vendor: str
    account: str
    course_id: str
    source: str
    vendor_id: str | None
    payload_hash: str | None
    pending_hash: str | None
    payload_json: bytes | None
    status: str
    run_id: str | None

    @property
    def holds_ours(self) -> bool:
        """The vendor holds a payload of ours (created at some point, maybe since changed)."""
        return self.payload_hash is not None


@dataclass
class OutcomeRow:
    """One outcome as the ledger stores it (sync.py builds these)."""

    run_id: str
    vendor: str
    account: str
    course_id: str
    source: str | None
    action: str
    status: str
    http_status: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    attempts: int = 0
    vendor_id: str | None = None
    payload_hash: str | None = None
    source_file: str | None = None
    source_sheet: str | None = None
    source_row: int | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None

    def as_row(self) -> dict:
        return {name: getattr(self, name) for name in OUTCOME_COLUMNS}


@dataclass
class Settlement:
    """How a state row ends after a send: the new status, and what the vendor now holds."""

    course_id: str
    status: str
    vendor_id: str | None = None
    landed_hash: str | None = None  # set when the payload landed
    payload_json: bytes | None = None


@dataclass(frozen=True)
class Unknown:
    """An item whose outcome is not known (Ledger.unknowns): where it is, and when and by which run it
    was last sent (its write-ahead, or the settlement that found its answer lost)."""

    vendor: str
    account: str
    course_id: str
    source: str
    status: str  # unknown | in_flight
    sent_at: dt.datetime | None
    run_id: str | None
    vendor_id: str | None


@dataclass(frozen=True)
class Resolution:
    """A person's word on an unknown item (Ledger.resolve, resolve_many). run_id: the run that sent it,
    as listed, so that an item sent again since is left alone."""

    course_id: str
    landed: bool
    vendor_id: str | None = None
    run_id: str | None = None


class Ledger:
    def __init__(self, url: str | None = None):
        self.url = url or ledger_url()
        self.engine: Engine = create_engine(self.url, future=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        migrate(self.engine)

    @property
    def location(self) -> str:
        return describe_url(self.url)

    def dispose(self) -> None:
        self.engine.dispose()

    # --------------------------------------------------------------------------------- state

    def states(self, vendor: str, account: str) -> dict[str, State]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(sync_state).where(and_(sync_state.c.vendor == vendor,
                                                              sync_state.c.account == account)))
            return {row.course_id: State(**{k: getattr(row, k) for k in State.__dataclass_fields__})
                    for row in rows}

    def begin(self, vendor: str, account: str, source: str, run_id: str,
              pending: Iterable[tuple[str, str | None]]) -> None:
        """Write-ahead: mark these (course_id, hash being sent) in flight before they are sent."""
        pending = list(pending)
        if not pending:
            return
        stamp = now()
        with self.engine.begin() as conn:
            existing = {row.course_id for row in conn.execute(
                select(sync_state.c.course_id).where(and_(
                    sync_state.c.vendor == vendor, sync_state.c.account == account,
                    sync_state.c.course_id.in_([cid for cid, _ in pending]))))}
            new = [{"vendor": vendor, "account": account, "course_id": cid, "source": source, "pending_hash": h,
                    "status": IN_FLIGHT, "run_id": run_id, "created_at": stamp, "updated_at": stamp}
                   for cid, h in pending if cid not in existing]
            old = [{"k_course": cid, "pending_hash": h, "status": IN_FLIGHT, "run_id": run_id, "updated_at": stamp}
                   for cid, h in pending if cid in existing]
            if new:
                conn.execute(insert(sync_state), new)
            if old:
                conn.execute(self._state_update(vendor, account).values(
                    pending_hash=bindparam("pending_hash"), status=bindparam("status"),
                    run_id=bindparam("run_id"), updated_at=bindparam("updated_at")), old)

    def settle(self, vendor: str, account: str, run_id: str, settlements: Iterable[Settlement],
               outcomes: Iterable[OutcomeRow]) -> None:
        """After a send: each item's final state and its outcome row, in one transaction."""
        stamp = now()
        rows = []
        for s in settlements:
            row = {"k_course": s.course_id, "status": s.status, "run_id": run_id, "updated_at": stamp}
            # An unknown item keeps the hash it was sent with, for `resolve --landed`; a rejected one the hash
            # the vendor refused, so the same content is not sent again (sync.py).
            if s.status not in ("unknown", "rejected"):
                row["pending_hash"] = None
            rows.append((s, row))
        with self.engine.begin() as conn:
            for group in _group_by_columns(rows):
                statement = self._state_update(vendor, account).values(
                    **{k: bindparam(k) for k in group[0] if k != "k_course"})
                conn.execute(statement, group)
            outcome_rows = [o.as_row() for o in outcomes]
            if outcome_rows:
                conn.execute(insert(sync_outcomes), outcome_rows)

    def answered_sends(self, vendor: str, account: str, course_ids: Iterable[str]) -> dict[tuple[str, str], int]:
        """(course, payload hash) -> how many sends of exactly that payload got an answer (every outcome of a
        create or update but unknown): what a vendor that answers a body it has seen with its old result needs
        to make the next one differ (Kombo)."""
        ids = list(dict.fromkeys(course_ids))
        counts: dict[tuple[str, str], int] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                rows = conn.execute(
                    select(sync_outcomes.c.course_id, sync_outcomes.c.payload_hash, func.count())
                    .where(and_(sync_outcomes.c.vendor == vendor, sync_outcomes.c.account == account,
                                sync_outcomes.c.course_id.in_(ids[start:start + 500]),
                                sync_outcomes.c.action.in_(["create", "update"]),
                                sync_outcomes.c.status != "unknown"))
                    .group_by(sync_outcomes.c.course_id, sync_outcomes.c.payload_hash))
                counts.update({(row[0], row[1]): row[2] for row in rows})
        return counts

    def record(self, outcomes: Iterable[OutcomeRow]) -> None:
        """Outcomes of items that sent nothing (unchanged, rejected, orphaned, held unknown)."""
        rows = [o.as_row() for o in outcomes]
        if rows:
            with self.engine.begin() as conn:
                conn.execute(insert(sync_outcomes), rows)

    def hold_unknown(self, vendor: str, account: str, course_ids: Iterable[str]) -> None:
        """Items a dead run left in flight are unknown now. Unlike settle, the run and time of their send
        stay on the row: they are what a person needs to look for it (`course-pipeline unknowns`)."""
        course_ids = list(course_ids)
        if course_ids:
            with self.engine.begin() as conn:
                conn.execute(update(sync_state).where(and_(
                    sync_state.c.vendor == vendor, sync_state.c.account == account,
                    sync_state.c.course_id.in_(course_ids), sync_state.c.status == IN_FLIGHT)).values(status="unknown"))

    def unknowns(self, vendor: str, account: str) -> list[Unknown]:
        """The items whose outcome nobody knows: `unknown` (an answer lost), or `in_flight` (written ahead
        by a run that has not settled them: one that died, or one still running)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(sync_state).where(and_(
                sync_state.c.vendor == vendor, sync_state.c.account == account,
                sync_state.c.status.in_(["unknown", IN_FLIGHT]))).order_by(sync_state.c.source, sync_state.c.course_id))
            return [Unknown(vendor, account, row.course_id, row.source, row.status, _utc(row.updated_at), row.run_id,
                            row.vendor_id) for row in rows]

    def resolve(self, vendor: str, account: str, course_id: str, *, landed: bool, vendor_id: str | None = None) -> bool:
        """A person settles an item. Landed: an `unknown` item is there after all (with this vendor id):
        `reconciled`; or a change the vendor cannot take (UPDATE_NOT_SUPPORTED) was made there by hand. Not landed: the vendor holds nothing of it (never arrived, or deleted there by hand),
        so the next sync creates it. Returns False when there is no such item (or, for landed, none unknown)."""
        with self._settling(vendor, account), self.engine.begin() as conn:
            return self._resolve(conn, vendor, account, Resolution(course_id, landed, vendor_id), only_unknown=False)

    def resolve_many(self, vendor: str, account: str, resolutions: Iterable[Resolution]) -> list[bool]:
        """Settle many unknown items in one transaction (all or none), each as `resolve` does; True for
        each that was settled. Only an item still unknown (or in flight) is settled, and, when the
        resolution names the run that sent it, only if no other run has sent it since."""
        with self._settling(vendor, account), self.engine.begin() as conn:
            return [self._resolve(conn, vendor, account, r, only_unknown=True) for r in resolutions]

    def _settling(self, vendor: str, account: str):
        """A person settles items only while no sync of the account runs: an item in flight now is not
        the dead run's to settle. Raises AccountBusy at once, naming the sync."""
        return self.hold(vendor, account, run_id="resolve", source="(a person settling unknowns)", timeout=0)

    def _resolve(self, conn, vendor: str, account: str, resolution: Resolution, *, only_unknown: bool) -> bool:
        state = conn.execute(select(sync_state).where(and_(
            sync_state.c.vendor == vendor, sync_state.c.account == account,
            sync_state.c.course_id == resolution.course_id))).first()
        if state is None:
            return False
        landed_hash = state.pending_hash
        if resolution.landed and not only_unknown and state.status not in ("unknown", IN_FLIGHT):
            # A change the vendor cannot take (UPDATE_NOT_SUPPORTED), made there by hand: the version the
            # newest run found not updated is the one the vendor holds now.
            landed_hash = self._not_updated_hash(conn, vendor, account, resolution.course_id, state.payload_hash)
            if landed_hash is None:
                return False
        elif (resolution.landed or only_unknown) and state.status not in ("unknown", IN_FLIGHT):
            return False
        if resolution.run_id and state.run_id != resolution.run_id:
            return False
        values = ({"status": "reconciled", "payload_hash": landed_hash,
                   "vendor_id": resolution.vendor_id or (state.vendor_id if state.status not in ("unknown", IN_FLIGHT)
                                                         else None)}
                  if resolution.landed else {"status": "failed", "payload_hash": None, "vendor_id": None,
                                             "payload_json": None})
        conn.execute(self._state_update(vendor, account).values(**values, pending_hash=None, updated_at=now()),
                     {"k_course": resolution.course_id})
        return True

    @staticmethod
    def _not_updated_hash(conn, vendor: str, account: str, course_id: str, held: str | None) -> str | None:
        """The payload hash of the item's newest outcome if that says the vendor could not take the change."""
        row = conn.execute(select(sync_outcomes.c.error_code, sync_outcomes.c.payload_hash).where(and_(
            sync_outcomes.c.vendor == vendor, sync_outcomes.c.account == account,
            sync_outcomes.c.course_id == course_id)).order_by(sync_outcomes.c.id.desc()).limit(1)).first()
        if row is None or row.error_code != "UPDATE_NOT_SUPPORTED" or row.payload_hash in (None, held):
            return None
        return row.payload_hash

    def load_window(self, vendor: str, account: str) -> list[float]:
        with self.engine.connect() as conn:
            row = conn.execute(select(rate_windows.c.sent_at).where(and_(
                rate_windows.c.vendor == vendor, rate_windows.c.account == account))).first()
        return json.loads(row.sent_at) if row else []

    def save_window(self, vendor: str, account: str, sent_at: list[float]) -> None:
        with self.engine.begin() as conn:
            conn.execute(rate_windows.delete().where(and_(rate_windows.c.vendor == vendor,
                                                          rate_windows.c.account == account)))
            conn.execute(insert(rate_windows), {"vendor": vendor, "account": account,
                                                "sent_at": json.dumps([round(t, 3) for t in sent_at])})

    @contextmanager
    def hold(self, vendor: str, account: str, *, run_id: str, source: str,
             notify: Callable[[str], None] = lambda message: None, stop: threading.Event | None = None,
             timeout: float = LOCK_WAIT_SECONDS, poll: float = 0.5) -> Iterator[None]:
        """Hold this account's sync lock for the block: a second sync of the account waits (saying for
        whom, every 30 s) until the first ends or dies, and gives up with AccountBusy after `timeout`."""
        lock = account_lock(self.engine, vendor, account)
        started, told = time.monotonic(), None
        while not lock.try_acquire():
            waited = time.monotonic() - started
            who = self.lock_holder(vendor, account) or "another sync"
            if waited >= timeout:
                raise AccountBusy(f"{vendor} account {account} is being synced by {who} (waited {waited:.0f} s); "
                                  "run again when it has finished")
            if told is None or time.monotonic() - told >= 30:
                told = time.monotonic()
                notify(f"waiting for {vendor} account {account}: {who} is syncing it")
            if stop is not None and stop.wait(poll):
                raise InterruptedError(f"stopped while waiting for {vendor} account {account}")
            if stop is None:
                time.sleep(poll)
        holder = f"run {run_id} (source {source}, pid {os.getpid()} on {socket.gethostname()})"
        try:
            with self.engine.begin() as conn:
                conn.execute(sync_locks.delete().where(and_(sync_locks.c.vendor == vendor,
                                                            sync_locks.c.account == account)))
                conn.execute(insert(sync_locks), {"vendor": vendor, "account": account, "holder": holder,
                                                  "since": now()})
            yield
        finally:
            try:
                with self.engine.begin() as conn:
                    conn.execute(sync_locks.delete().where(and_(sync_locks.c.vendor == vendor,
                                                                sync_locks.c.account == account)))
            finally:
                lock.release()

    def lock_holder(self, vendor: str, account: str) -> str | None:
        """Who last took the account's lock (a dead holder's row stays until the next taker replaces it)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(sync_locks.c.holder, sync_locks.c.since).where(and_(
                sync_locks.c.vendor == vendor, sync_locks.c.account == account))).first()
        return f"{row.holder} since {row.since:%Y-%m-%d %H:%M:%S}" if row else None

    def record_run(self, run_id: str, vendor: str, account: str, source: str, counts: dict,
                   started: dt.datetime | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(sync_runs), {"run_id": run_id, "vendor": vendor, "account": account, "source": source,
                                             "counts": json.dumps(counts), "started_at": started,
                                             "finished_at": now()})

    def run_summaries(self, run_ids: Iterable[str] | None = None) -> pd.DataFrame:
        query = select(sync_runs.c.run_id, sync_runs.c.vendor, sync_runs.c.account, sync_runs.c.source,
                       sync_runs.c.counts, sync_runs.c.started_at, sync_runs.c.finished_at).order_by(sync_runs.c.id)
        if run_ids is not None:
            query = query.where(sync_runs.c.run_id.in_(list(run_ids)))
        with self.engine.connect() as conn:
            frame = pd.DataFrame(conn.execute(query).mappings().all(),
                                 columns=["run_id", "vendor", "account", "source", "counts", "started_at",
                                          "finished_at"])
        frame["counts"] = frame["counts"].map(json.loads)
        return frame

    def _state_update(self, vendor: str, account: str):
        return update(sync_state).where(and_(sync_state.c.vendor == vendor, sync_state.c.account == account,
                                             sync_state.c.course_id == bindparam("k_course")))

    # ------------------------------------------------------------------------------ history

    def outcomes(self, run_id: str | None = None, vendor: str | None = None,
                 run_ids: Iterable[str] | None = None, course_id: str | None = None) -> pd.DataFrame:
        query = select(*[sync_outcomes.c[name] for name in OUTCOME_COLUMNS]).order_by(sync_outcomes.c.id)
        if run_id:
            query = query.where(sync_outcomes.c.run_id == run_id)
        if run_ids is not None:
            query = query.where(sync_outcomes.c.run_id.in_(list(run_ids)))
        if vendor:
            query = query.where(sync_outcomes.c.vendor == vendor)
        if course_id is not None:
            query = query.where(sync_outcomes.c.course_id == course_id)
        with self.engine.connect() as conn:
            return _with_utc(pd.DataFrame(conn.execute(query).mappings().all(), columns=OUTCOME_COLUMNS))

    # ---------------------------------------------------------------- the current state (state.py)

    def state_frame(self, vendor: str | None = None, source: str | None = None,
                    course_id: str | None = None, account: str | None = None) -> pd.DataFrame:
        """sync_state as a frame (payload bodies left out)."""
        columns = [c for c in sync_state.columns if c.name != "payload_json"]
        query = select(*columns).where(*self._where(sync_state, vendor, source, course_id, account))
        with self.engine.connect() as conn:
            return _with_utc(pd.DataFrame(conn.execute(query).mappings().all(), columns=[c.name for c in columns]))

    def latest_outcomes(self, vendor: str | None = None, source: str | None = None,
                        course_id: str | None = None, account: str | None = None) -> pd.DataFrame:
        """Each item's newest outcome row."""
        newest = (select(func.max(sync_outcomes.c.id))
                  .where(*self._where(sync_outcomes, vendor, source, course_id, account))
                  .group_by(sync_outcomes.c.vendor, sync_outcomes.c.account, sync_outcomes.c.course_id))
        query = select(*[sync_outcomes.c[name] for name in OUTCOME_COLUMNS]).where(sync_outcomes.c.id.in_(newest))
        with self.engine.connect() as conn:
            return _with_utc(pd.DataFrame(conn.execute(query).mappings().all(), columns=OUTCOME_COLUMNS))

    def last_full_runs(self, vendor: str | None = None, source: str | None = None,
                       account: str | None = None) -> pd.DataFrame:
        """When the newest complete sync step of each (vendor, account, source) started: one that looked at
        every course of the source (a retry of failures looks only at those, see Plan.partial)."""
        query = (select(sync_runs.c.vendor, sync_runs.c.account, sync_runs.c.source, sync_runs.c.counts,
                        sync_runs.c.started_at).where(*self._where(sync_runs, vendor, source, None, account))
                 .order_by(sync_runs.c.id))
        with self.engine.connect() as conn:
            rows = [row for row in conn.execute(query).mappings() if not json.loads(row["counts"]).get("partial")]
        frame = _with_utc(pd.DataFrame(rows, columns=["vendor", "account", "source", "counts", "started_at"]))
        return frame.drop(columns="counts").drop_duplicates(["vendor", "account", "source"], keep="last")

    @staticmethod
    def _where(table: Table, vendor: str | None, source: str | None, course_id: str | None,
               account: str | None = None) -> list:
        return [condition for condition, value in ((table.c.vendor == vendor, vendor),
                                                   (table.c.account == account, account),
                                                   (table.c.source == source, source),
                                                   (table.c.get("course_id") == course_id, course_id))
                if value is not None]


def _with_utc(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame's time columns as UTC timestamps (SQLite gives them back without their zone)."""
    for column in ("started_at", "finished_at", "created_at", "updated_at"):
        if column in frame:
            frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def _utc(stamp: dt.datetime | None) -> dt.datetime | None:
    """SQLite gives stored times back without their zone; they were written in UTC."""
    return stamp.replace(tzinfo=dt.UTC) if stamp is not None and stamp.tzinfo is None else stamp


def _group_by_columns(rows: list[tuple[Settlement, dict]]) -> list[list[dict]]:
    """executemany needs one column set per statement: group settlements by the fields they set."""
    groups: dict[tuple, list[dict]] = {}
    for settlement, row in rows:
        if settlement.landed_hash is not None:
            row["payload_hash"] = settlement.landed_hash
            if settlement.payload_json is not None:
                row["payload_json"] = settlement.payload_json
        if settlement.vendor_id is not None:
            row["vendor_id"] = settlement.vendor_id
        groups.setdefault(tuple(sorted(row)), []).append(row)
    return list(groups.values())


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets a reader (the UI, a report) work beside the writer; busy_timeout makes concurrent
    # vendor steps wait for each other instead of failing with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
