"""Rendering validation results for people: plain tables for the terminal, markdown for Dagster."""

from __future__ import annotations

import pandas as pd
from tabulate import tabulate

from .validation import ValidationResult

PREVIEW_ROWS = 25
_REJECT_VIEW = ["table", "key", "file", "sheet", "row", "column", "rule", "value", "message"]


def _clip(frame: pd.DataFrame, width: int = 90) -> pd.DataFrame:
    return frame.astype(object).map(lambda v: v if not isinstance(v, str) or len(v) <= width else v[:width - 1] + "…")


def summary_table(result: ValidationResult, fmt: str = "simple") -> str:
    return tabulate(result.summary, headers="keys", tablefmt=fmt, showindex=False)


def rejects_table(result: ValidationResult, fmt: str = "simple", limit: int | None = None) -> str:
    rejects = result.rejects[_REJECT_VIEW]
    shown = rejects if limit is None else rejects.head(limit)
    text = tabulate(_clip(shown.fillna("")), headers="keys", tablefmt=fmt, showindex=False)
    if limit is not None and len(rejects) > limit:
        text += f"\n\n… and {len(rejects) - limit} more (see `course-pipeline validate --json`)"
    return text


def rejects_markdown(result: ValidationResult, limit: int = PREVIEW_ROWS) -> str:
    if result.rejects.empty:
        return "No rejected rows."
    return rejects_table(result, fmt="github", limit=limit)
