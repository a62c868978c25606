"""A sources file with one good source between three that cannot be configured, for the tests of every door
(validate, payloads, plan, sync, the sensor, a partition's run): each must report the broken ones in one line
and go on with the good one."""

from __future__ import annotations

from pathlib import Path

import yaml

# The broken sources in file order, and what the line about each must say: its file and what was expected.
BROKEN_LINES = {"missing": ["nope.csv", "not found"], "odd_format": ["'xls'", "good.csv", "expected one of csv"],
                "folder": ["a_folder", "is a folder", "expected the csv file itself"]}


def mixed_sources(folder: Path) -> Path:
    """One good source between three that cannot be configured: a missing file, an unknown format, a folder."""
    (folder / "good.csv").write_text("course_id,title,course_url\nC1,One,https://learn.example.com/c/1\n",
                                     encoding="utf-8")
    (folder / "a_folder").mkdir()
    entries = [{"name": "missing", "format": "csv", "path": "nope.csv"},
               {"name": "good", "format": "csv", "path": "good.csv"},
               {"name": "odd_format", "format": "xls", "path": "good.csv"},
               {"name": "folder", "format": "csv", "path": "a_folder"}]
    path = folder / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": [{**e, "tables": {"courses": {}}} for e in entries]}))
    return path


def assert_broken_reported(lines: list[str]) -> None:
    """Each broken source is one line naming it, its file and what was expected."""
    assert len(lines) == len(BROKEN_LINES), lines
    for line, (name, fragments) in zip(lines, BROKEN_LINES.items(), strict=True):
        assert f"source '{name}'" in line and all(f in line for f in fragments), (name, line)
        assert "Traceback" not in line
