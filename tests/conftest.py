"""Shared test helpers: a throw-away catalog source (files + sources.yaml) in tmp_path; and for the sync
tests, the sandbox on a free loopback port, the run's environment pointing the sandbox targets at it, a
fresh ledger and Dagster instance, a catalog."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import pytest
import yaml
from sqlalchemy import create_engine, text
from sync_support import FAST, FAST_ENV, Catalog

from course_pipeline.catalog.sources import SourceConfig, load_sources
from course_pipeline.ledger import Ledger, metadata
from course_pipeline.sandbox import SandboxConfig, SandboxServer

PROJECT = Path(__file__).resolve().parents[1]
SAMPLE_SOURCES = PROJECT / "data" / "sources.yaml"
TMPFS = Path("/dev/shm")


def pytest_configure(config):
    """tmp_path on tmpfs where the machine has one: the ledgers and Dagster homes the tests make are SQLite
    files, and on a disk each of their commits waits for fsync (about a tenth of the sync tests' time).
    pytest's own numbered folders (pytest-of-<user>/pytest-N, the last three kept), only under /dev/shm;
    --basetemp or PYTEST_DEBUG_TEMPROOT, when given, win."""
    if (not config.option.basetemp and "PYTEST_DEBUG_TEMPROOT" not in os.environ
            and TMPFS.is_dir() and os.access(TMPFS, os.W_OK | os.X_OK)):
        os.environ["PYTEST_DEBUG_TEMPROOT"] = str(TMPFS)

COURSE_HEADER = "course_id,title,course_url,duration_minutes,languages\n"


class SourceFactory:
    def __init__(self, tmp_path: Path):
        self.dir = tmp_path

    def yaml(self, sources: list[dict]) -> Path:
        path = self.dir / "sources.yaml"
        path.write_text(yaml.safe_dump({"sources": sources}, allow_unicode=True), encoding="utf-8")
        return path

    def csv(self, content: str | bytes, *, encoding: str = "utf-8", name: str = "src", tables: dict | None = None,
            **settings) -> SourceConfig:
        file = self.dir / f"{name}.csv"
        file.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
        entry = {"name": name, "format": "csv", "path": file.name, "tables": tables or {"courses": {}}, **settings}
        return load_sources(self.yaml([entry]))[0]

    def source(self, entry: dict) -> SourceConfig:
        return load_sources(self.yaml([entry]))[0]


@pytest.fixture
def sources(tmp_path: Path) -> SourceFactory:
    return SourceFactory(tmp_path)


@pytest.fixture
def sample_sources_file() -> Path:
    return SAMPLE_SOURCES


@pytest.fixture
def catalog(tmp_path) -> Catalog:
    folder: Path = tmp_path / "catalog"
    folder.mkdir()
    return Catalog(folder, n=30)


@pytest.fixture
def sandbox():
    with SandboxServer(SandboxConfig(**FAST)) as server:
        yield server


@pytest.fixture
def ledger_url(tmp_path) -> str:
    """SQLite in tmp_path; or, with COURSE_PIPELINE_TEST_LEDGER_URL set (e.g. a PostgreSQL URL), that
    database, emptied before each test, so the same tests prove the ledger on another engine."""
    url = os.environ.get("COURSE_PIPELINE_TEST_LEDGER_URL")
    if not url:
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    engine = create_engine(url)
    metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()
    return url


@pytest.fixture
def env(sandbox, ledger_url, tmp_path, monkeypatch):
    """The environment a run reads when it starts: where the sandbox and the ledger are, and fast limits."""
    for key, value in {**FAST_ENV, "COURSE_PIPELINE_SANDBOX_URL": sandbox.url,
                       "COURSE_PIPELINE_LEDGER_URL": ledger_url,
                       "COURSE_PIPELINE_STATE_DIR": str(tmp_path / "state")}.items():
        monkeypatch.setenv(key, value)
    return sandbox


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


@pytest.fixture
def ledger(env, ledger_url):
    ledger = Ledger(ledger_url)
    yield ledger
    ledger.dispose()
