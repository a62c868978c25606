"""Fixtures for the sync tests: the sandbox on a free loopback port, a fresh ledger, a catalog."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sync_support import FAST, Catalog

from course_pipeline.ledger import Ledger, metadata
from course_pipeline.sandbox import SandboxConfig, SandboxServer


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
def ledger(tmp_path):
    """SQLite in tmp_path; or, with COURSE_PIPELINE_TEST_LEDGER_URL set (e.g. a PostgreSQL URL), that
    database, emptied before each test, so the same tests prove the ledger on another engine."""
    url = os.environ.get("COURSE_PIPELINE_TEST_LEDGER_URL")
    if url:
        metadata.drop_all(create_engine(url))
    ledger = Ledger(url or f"sqlite:///{tmp_path / 'ledger.db'}")
    yield ledger
    ledger.dispose()


