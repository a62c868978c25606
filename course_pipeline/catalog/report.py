"""Rendering validation results for people: plain tables for the terminal, markdown for Dagster."""

from __future__ import annotations

import pandas as pd
from tabulate import tabulate

from .validation import ValidationResult

PREVIEW_ROWS = 25
_REJECT_VIEW = ["table", "key", "file", "sheet", "row", "column", "rule", "value", "message"]
# The UI's table: the cell in one column, and the message whole (it says what was expected; ours, never long).
_MARKDOWN_VIEW = ["key", "where", "column", "rule", "value", "message"]


def _clip(frame: pd.DataFrame, width: int = 40, keep: tuple[str, ...] = ("message",)) -> pd.DataFrame:
    def cut(v):
        return v if not isinstance(v, str) or len(v) <= width else v[:width - 1] + "…"

    return frame.astype(object).apply(lambda column: column if column.name in keep else column.map(cut))


def _where(rejects: pd.DataFrame) -> pd.Series:
    """table, file[:sheet], row as one short cell: courses courses.csv:12."""
    def one(r) -> str:
        place = ":".join(str(p) for p in (r["file"], r["sheet"]) if isinstance(p, str) and p)
        row = f":{int(r['row'])}" if pd.notna(r["row"]) else ""
        return f"{r['table']} {place}{row}".strip()

    return rejects.apply(one, axis=1) if len(rejects) else pd.Series(dtype=object)


def summary_table(result: ValidationResult, fmt: str = "simple") -> str:
    return tabulate(result.summary, headers="keys", tablefmt=fmt, showindex=False)


def rejects_table(result: ValidationResult, fmt: str = "simple", limit: int | None = None) -> str:
    rejects = result.rejects
    shown = rejects if limit is None else rejects.head(limit)
    if fmt == "github":  # the UI: narrow
        view = shown.assign(where=_where(shown))[_MARKDOWN_VIEW]
    else:
        view = shown[_REJECT_VIEW]
    text = tabulate(_clip(view.fillna("")), headers="keys", tablefmt=fmt, showindex=False)
    if limit is not None and len(rejects) > limit:
        text += f"\n\n… and {len(rejects) - limit} more (see `course-pipeline validate --json`)"
    return text


def rejects_markdown(result: ValidationResult, limit: int = PREVIEW_ROWS) -> str:
    if result.rejects.empty:
        return "No rejected rows."
    return rejects_table(result, fmt="github", limit=limit)
