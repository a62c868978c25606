"""Shared test helpers: write a throw-away catalog source (files + sources.yaml) in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from course_pipeline.catalog.sources import SourceConfig, load_sources

PROJECT = Path(__file__).resolve().parents[1]
SAMPLE_SOURCES = PROJECT / "data" / "sources.yaml"

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
