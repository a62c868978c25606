"""Fixtures for the sync tests: the sandbox on a free loopback port, a fresh ledger, a catalog."""

from __future__ import annotations

from pathlib import Path

import pytest
from sync_support import FAST, Catalog

from course_pipeline.ledger import Ledger
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
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    yield ledger
    ledger.dispose()


