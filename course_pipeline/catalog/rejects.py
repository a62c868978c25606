"""Rejects: one row per reason a catalog row was not accepted, pointing back to its cell."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from .schema import TABLES

# `_index` is the row's position in its table's frame; it stays internal (see public_rejects).
REJECT_COLUMNS = ["table", "_index", "key", "source", "file", "sheet", "row", "column", "rule", "value", "message"]
PUBLIC_REJECT_COLUMNS = [c for c in REJECT_COLUMNS if c != "_index"]
_SHOWN_CHARS = 120
# Shown escaped (\x1b, \n), so a rejected value never moves the cursor or colours a terminal.
_UNPRINTABLE = re.compile("[\\x00-\\x1f\\x7f-\\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def display_value(value: Any) -> str:
    """A rejected value as a person should see it: short, with the length of what was cut."""
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        return ""
    text = _UNPRINTABLE.sub(lambda m: repr(m.group(0))[1:-1], str(value))
    if len(text) > _SHOWN_CHARS:
        return f"{text[:100]}… ({len(text):,} characters)"
    return text


def make_rejects(table: str, frame: pd.DataFrame, index: Any, column: str | Any, rule: str | Any,
                 value: Any, message: str | Any) -> pd.DataFrame:
    """Reject rows for the given row labels of `frame`; the other arguments are scalars or aligned lists."""
    index = pd.Index(index)
    if not len(index):
        return pd.DataFrame(columns=REJECT_COLUMNS)
    rows = frame.loc[index]
    values = pd.Series(value if isinstance(value, list | pd.Series | pd.Index) else [value] * len(index))
    return pd.DataFrame({
        "table": table,
        "_index": index.to_numpy(),
        "key": rows[TABLES[table].key].astype(object).where(rows[TABLES[table].key].notna(), None).to_numpy(),
        "source": rows["_source"].astype(str).to_numpy(),
        "file": rows["_file"].astype(str).to_numpy(),
        "sheet": rows["_sheet"].astype(object).where(rows["_sheet"].notna(), None).to_numpy(),
        "row": rows["_row"].to_numpy(),
        "column": column if isinstance(column, str) else list(column),
        "rule": rule if isinstance(rule, str) else list(rule),
        "value": [display_value(v) for v in values],
        "message": message if isinstance(message, str) else list(message),
    })


def rejects_from_cells(table: str, frame: pd.DataFrame, items: list[tuple]) -> pd.DataFrame:
    """From values.CellErrors items: (row label, column, rule, value, message)."""
    index, columns, rules, values, messages = zip(*items, strict=True)
    return make_rejects(table, frame, list(index), list(columns), list(rules), list(values), list(messages))


def public_rejects(rejects: pd.DataFrame) -> pd.DataFrame:
    """Rejects ordered as a person reads them: by table, then file row."""
    order = {name: i for i, name in enumerate(TABLES)}
    out = rejects.assign(_order=rejects["table"].map(order)).sort_values(["_order", "row", "column"], kind="stable")
    return out[PUBLIC_REJECT_COLUMNS].reset_index(drop=True)
