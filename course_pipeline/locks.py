"""One lock per vendor account, in the ledger's database: while a sync sends to an account, no other
process (another Dagster home, the CLI beside the UI, another machine on a shared PostgreSQL ledger)
sends to it. Each kind is released by the database or the OS when its holder dies, so a killed sync
never leaves a lock behind:

- PostgreSQL: a session advisory lock (pg_try_advisory_lock) on a connection held for the sync;
- MySQL/MariaDB: a named lock (GET_LOCK) on a held connection;
- SQLite: flock on a file beside the database (SQLite itself only locks the whole file, which would
  stop the other vendors' syncs writing their outcomes);
- an in-memory SQLite ledger (tests): a lock within this process.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from pathlib import Path

from sqlalchemy import Engine, text


class AccountBusy(RuntimeError):
    """Another sync holds the account and did not let go in time."""


def _key(vendor: str, account: str) -> str:
    return f"course_pipeline/{vendor}/{account}"


class _FileLock:
    def __init__(self, database: str, vendor: str, account: str):
        folder = Path(f"{database}.locks")
        folder.mkdir(parents=True, exist_ok=True)
        # The account may be a URL or an email: hash it into a file name.
        self.path = folder / f"{vendor}-{hashlib.sha256(account.encode()).hexdigest()[:16]}.lock"
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class _SessionLock:
    """A lock owned by one database session: PostgreSQL advisory locks, MySQL named locks."""

    def __init__(self, engine: Engine, vendor: str, account: str):
        self.engine, self.name = engine, _key(vendor, account)
        # Advisory locks take a 64-bit key: the first 8 bytes of the name's hash, signed.
        self.number = int.from_bytes(hashlib.sha256(self.name.encode()).digest()[:8], "big", signed=True)
        self._conn = None

    def try_acquire(self) -> bool:
        conn = self.engine.connect()
        if self.engine.dialect.name == "postgresql":
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.number}).scalar()
        else:
            got = conn.execute(text("SELECT GET_LOCK(:k, 0)"), {"k": self.name[:64]}).scalar() == 1
        conn.commit()
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def release(self) -> None:
        if self._conn is None:
            return
        try:
            if self.engine.dialect.name == "postgresql":
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.number})
            else:
                self._conn.execute(text("SELECT RELEASE_LOCK(:k)"), {"k": self.name[:64]})
            self._conn.commit()
        finally:  # closing the session releases it anyway
            self._conn.close()
            self._conn = None


_in_process: dict[str, threading.Lock] = {}
_registry_lock = threading.Lock()


class _ProcessLock:
    def __init__(self, vendor: str, account: str):
        with _registry_lock:
            self._lock = _in_process.setdefault(_key(vendor, account), threading.Lock())

    def try_acquire(self) -> bool:
        return self._lock.acquire(blocking=False)

    def release(self) -> None:
        if self._lock.locked():
            self._lock.release()


def account_lock(engine: Engine, vendor: str, account: str):
    """The lock for this vendor account in this ledger's database."""
    if engine.dialect.name in ("postgresql", "mysql", "mariadb"):
        return _SessionLock(engine, vendor, account)
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        return _FileLock(str(Path(database).resolve()), vendor, account)
    return _ProcessLock(vendor, account)
