"""Value parsing: what a source wrote ("1.5 hours", "Yes", "English; German") into our types.

Each parser takes a column as the source wrote it and returns it in our type, recording every cell
it cannot read in a CellErrors (the row is then rejected with that reason; the rest go on).
Catalogs repeat the same few values a great deal, so text columns are parsed once per distinct value.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import isodate
import langcodes
import numpy as np
import pandas as pd

from .readers import UnevaluatedFormula
from .sources import Conventions


class Unreadable(ValueError):
    """A cell whose value cannot be read as the column's type; the message says what was expected."""

    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.rule = rule


@dataclass
class CellErrors:
    """Cells that could not be read: row index, our column, rule, the value and the message."""

    items: list[tuple[Any, str, str, Any, str]] = field(default_factory=list)

    def add(self, index: Any, column: str, rule: str, value: Any, message: str) -> None:
        self.items.append((index, column, rule, value, message))


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _number_text(value: float | int) -> str:
    """Excel stores 101 as 101.0; an id or title of 101 means "101"."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# A cell a spreadsheet would run as a formula when the data is opened in one (CSV injection): a trigger
# (= + - @, or their full-width forms; spaces and more triggers may follow an =) and then a function
# call, a cell or sheet reference, or a DDE call (cmd|...), after an optional arithmetic prefix
# (-2+3+cmd|...). "= Intro =" or "-5" are text. Written for Python's re and Arrow's RE2 alike.
_FORMULA_TEXT = re.compile(
    r"^\s*(?:[=＝][\s=+\-@＝＋－＠]*|[+\-@＋－＠][=+\-@＝＋－＠]*)[0-9.+\-*/^\s]*"
    r"(?:[A-Za-z_][A-Za-z0-9_.]*\s*[(!|]|[A-Za-z]{1,3}\$?[0-9]+\b)")
# Control characters (C0 but tab and line breaks, DEL, C1) and the bidirectional overrides that make
# text display other than it reads; never in a catalog's text.
_CONTROL = re.compile("[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f\u202a-\u202e\u2066-\u2069]")
# Line breaks and tabs, refused in single-line fields (ids and titles).
_BREAK = re.compile("[\\t\\n\\r\\x0b\\x0c\u2028\u2029]")
SINGLE_LINE_COLUMNS = frozenset({"title", "slug", "instructor_name"})
_BREAK_HINT = ("holds a line break or tab; a title is one line. If the source is CSV, an unbalanced quote (\") "
               "may have merged this record with the next ones")


def control_message(text: str) -> str:
    char = _CONTROL.search(text).group(0)
    return f"holds the control character U+{ord(char):04X}; remove it"


def check_text(text: str, single_line: bool = False) -> str:
    """Text that cannot be right is refused: control characters anywhere, breaks in a single-line field."""
    if _CONTROL.search(text):
        raise Unreadable("control_character", control_message(text))
    if single_line and _BREAK.search(text):
        raise Unreadable("line_break", _BREAK_HINT)
    return text


def to_text(value: Any) -> str | None:
    if isinstance(value, UnevaluatedFormula):
        raise Unreadable("formula_not_evaluated", f"formula {value.formula} has no calculated value; "
                         "open and save the workbook in Excel, or paste the values")
    if _is_missing(value):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | np.integer | np.floating):
        return _number_text(value.item() if hasattr(value, "item") else value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list | dict):
        raise Unreadable("text", f"expected text, found a {type(value).__name__}")
    text = str(value).strip()
    if _FORMULA_TEXT.match(text):
        # A spreadsheet formula exported as text: never a real title, and unsafe to pass on.
        raise Unreadable("formula_not_evaluated", "a spreadsheet formula, not a value")
    return check_text(text)


def parse_unique(series: pd.Series, parse: Callable[[Any], Any], column: str, errors: CellErrors,
                 dtype: str | None = None) -> pd.Series:
    """Apply parse once per distinct value; cells it rejects become missing and are recorded."""
    try:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
    except TypeError:  # lists and dicts from JSON are not hashable: parse cell by cell
        return _parse_objects(series, parse, column, errors, dtype=dtype or object)
    results: list[Any] = []
    failures: dict[int, Unreadable] = {}
    for code, value in enumerate(uniques):
        try:
            results.append(parse(value))
        except Unreadable as exc:
            failures[code] = exc
            results.append(None)
    parsed_uniques = pd.array(results, dtype=dtype or object)
    parsed = pd.Series(parsed_uniques.take(codes, allow_fill=True), index=series.index)
    if failures:
        for position in np.flatnonzero(np.isin(codes, list(failures))):
            exc = failures[codes[position]]
            errors.add(series.index[position], column, exc.rule, uniques[codes[position]], str(exc))
    return parsed


def parse_text(series: pd.Series, column: str, errors: CellErrors, single_line: bool = False) -> pd.Series:
    if pd.api.types.is_string_dtype(series) and series.dtype != object:
        # Fast path for CSV columns (already text): strip and look for formulas, vectorised.
        text = series.str.strip()
        text = text.where(text != "", None)
        formula = text.str.match(_FORMULA_TEXT.pattern).fillna(False).astype(bool)
        for index, value in text[formula].items():
            errors.add(index, column, "formula_not_evaluated", value, "a spreadsheet formula, not a value")
        bad = text.str.contains(_CONTROL.pattern).fillna(False).astype(bool) & ~formula
        if single_line:
            bad |= text.str.contains(_BREAK.pattern).fillna(False).astype(bool) & ~formula
        for index, value in text[bad].items():
            try:
                check_text(value, single_line)
            except Unreadable as exc:
                errors.add(index, column, exc.rule, value, str(exc))
        return text.where(~(formula | bad), None).astype("str")
    parse = (lambda v: _single_line(to_text(v))) if single_line else to_text
    return parse_unique(series, parse, column, errors, dtype="str")


def _single_line(text: str | None) -> str | None:
    return None if text is None else check_text(text, single_line=True)


def apply_aliases(series: pd.Series, aliases: dict[str, str]) -> pd.Series:
    """The source's words replaced by ours before parsing (case and surrounding spaces ignored)."""
    return series.map(lambda v: aliases.get(v.strip().lower(), v) if isinstance(v, str) else v)


# ----------------------------------------------------------------------------------------- numbers

def to_int(value: Any) -> int | None:
    text = to_text(value)
    if text is None:
        return None
    try:
        number = float(text.replace(",", "."))
    except ValueError:
        raise Unreadable("integer", "expected a whole number") from None
    if not number.is_integer():
        raise Unreadable("integer", "expected a whole number")
    return int(number)


def parse_int(series: pd.Series, column: str, errors: CellErrors) -> pd.Series:
    return parse_unique(series, to_int, column, errors, dtype="Int64")


# --------------------------------------------------------------------------------------- durations

_UNIT_MINUTES = {
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes", "minuten", "minutos"), 1),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours", "std", "stunde", "stunden", "heure", "heures", "hora",
                     "horas"), 60),
    **dict.fromkeys(("d", "day", "days", "tag", "tage", "jour", "jours"), 24 * 60),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks", "woche", "wochen", "semaine", "semaines"), 7 * 24 * 60),
}
_DURATION_PART = re.compile(r"(\d+(?:[.,]\d+)?)\s*([^\W\d_]+)\.?", re.UNICODE)
_CLOCK = re.compile(r"^(\d{1,3}):([0-5]\d)(?::([0-5]\d))?$")


def to_minutes(value: Any, unit: str = "minutes") -> int | None:
    """90 | 1.5 (in the configured unit) | '37 mins' | '1.5 hours' | '1h 30m' | '12 Weeks' | 'PT1H30M' | '1:30'.

    Weeks and days are converted literally (12 weeks = 120,960 minutes): we cannot know the effort
    per week, and a source that means effort should state it in hours.
    """
    if isinstance(value, dt.timedelta):
        return max(round(value.total_seconds() / 60), 0) or None
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        return _round_minutes(float(value) * (60 if unit == "hours" else 1))
    text = to_text(value)
    if text is None:
        return None
    lowered = text.lower().strip()
    try:
        return _round_minutes(float(lowered.replace(",", ".")) * (60 if unit == "hours" else 1))
    except ValueError:
        pass
    if lowered.startswith("p"):
        try:
            return _round_minutes(isodate.parse_duration(text.upper()).total_seconds() / 60)
        except (isodate.ISO8601Error, ValueError, AttributeError):
            raise Unreadable("duration", "not an ISO-8601 duration such as PT1H30M") from None
    clock = _CLOCK.match(lowered)
    if clock:
        hours, minutes, seconds = int(clock[1]), int(clock[2]), int(clock[3] or 0)
        return _round_minutes(hours * 60 + minutes + seconds / 60)
    parts = _DURATION_PART.findall(lowered)
    leftover = _DURATION_PART.sub("", lowered).replace("and", "").strip(" ,")
    if not parts or leftover or any(u not in _UNIT_MINUTES for _, u in parts):
        raise Unreadable("duration", "expected a duration such as 90, '37 mins', '1.5 hours', '12 weeks' "
                         "or 'PT1H30M'")
    return _round_minutes(sum(float(n.replace(",", ".")) * _UNIT_MINUTES[u] for n, u in parts))


def _round_minutes(minutes: float) -> int:
    if math.isnan(minutes) or math.isinf(minutes):
        raise Unreadable("duration", "not a number")
    return int(math.floor(minutes + 0.5))  # half up: 1.5 minutes is 2, as a person would round


def parse_duration(series: pd.Series, column: str, errors: CellErrors, conv: Conventions) -> pd.Series:
    if pd.api.types.is_numeric_dtype(series):
        factor = 60 if conv.duration_unit == "hours" else 1
        return np.floor(series.astype("Float64") * factor + 0.5).astype("Int64")
    return parse_unique(series, lambda v: to_minutes(v, conv.duration_unit), column, errors, dtype="Int64")


# ---------------------------------------------------------------------------------- words and lists

def parse_bool(series: pd.Series, column: str, errors: CellErrors, conv: Conventions) -> pd.Series:
    truthy, falsy = set(conv.true_words), set(conv.false_words)

    def to_bool(value: Any) -> bool | None:
        if isinstance(value, bool | np.bool_):
            return bool(value)
        text = to_text(value)
        if text is None:
            return None
        word = text.lower()
        if word in truthy:
            return True
        if word in falsy:
            return False
        raise Unreadable("boolean", f"expected one of {', '.join(sorted(truthy | falsy))}")

    return parse_unique(series, to_bool, column, errors, dtype="boolean")


def parse_enum(series: pd.Series, column: str, errors: CellErrors, conv: Conventions) -> pd.Series:
    """Lower-case, spaces and hyphens as underscores ('Learning Path' -> learning_path), then aliases.
    Whether the word is allowed is the schema's to say (an isin check), with the allowed list."""
    aliases = conv.aliases.get(column, {})

    def to_word(value: Any) -> str | None:
        text = to_text(value)
        if text is None:
            return None
        word = text.lower()
        word = aliases.get(word, word)
        return re.sub(r"[\s\-]+", "_", word)

    return parse_unique(series, to_word, column, errors, dtype="str")


def split_list(value: Any, separator: str) -> list[str]:
    if isinstance(value, list):
        items = [to_text(v.get("name") if isinstance(v, dict) else v) for v in value]
        return [item for item in items if item]
    text = to_text(value)
    if text is None:
        return []
    return [item.strip() for item in text.split(separator) if item.strip()]


def parse_list(series: pd.Series, column: str, errors: CellErrors, conv: Conventions) -> pd.Series:
    return _parse_objects(series, lambda v: split_list(v, conv.list_separator), column, errors, fallback=[])


@lru_cache(maxsize=4096)
def to_language_tag(text: str) -> str:
    """'en_GB' | 'en-gb' | 'eng' | 'English' | 'English (UK)' | 'Deutsch' -> a normalised BCP 47 tag."""
    candidate = text.strip().replace("_", "-")
    if langcodes.tag_is_valid(candidate):
        return langcodes.standardize_tag(candidate)
    try:
        return langcodes.find(text.strip()).to_tag()
    except LookupError:
        raise Unreadable("language", f"{text!r} is neither a language tag (en, de-CH) nor a language name"
                         ) from None


def parse_languages(series: pd.Series, column: str, errors: CellErrors, conv: Conventions) -> pd.Series:
    # Languages are split on the list separator and on , ; / | as people write them (no name holds one).
    separators = re.compile("[" + re.escape(conv.list_separator) + ",;/|]")

    def to_tags(value: Any) -> list[str]:
        if isinstance(value, list):
            items = split_list(value, conv.list_separator)
        else:
            text = to_text(value)
            items = [p.strip() for p in separators.split(text)] if text else []
        tags = []
        for item in items:
            if item:
                tag = to_language_tag(item)
                if tag not in tags:
                    tags.append(tag)
        return tags

    return _parse_objects(series, to_tags, column, errors, fallback=[])


def _parse_objects(series: pd.Series, parse: Callable[[Any], Any], column: str, errors: CellErrors,
                   dtype: Any = object, fallback: Any = None) -> pd.Series:
    """Cell by cell, caching hashable values; list results are copied so rows never share a list.
    A cell that cannot be read is recorded and takes `fallback`."""
    cache: dict[Any, Any] = {}
    out = []
    for index, value in series.items():
        hashable = not isinstance(value, list | dict)
        if hashable and value in cache:
            outcome = cache[value]
        else:
            try:
                outcome = parse(value)
            except Unreadable as exc:
                outcome = exc
            if hashable:
                cache[value] = outcome
        if isinstance(outcome, Unreadable):
            errors.add(index, column, outcome.rule, value, str(outcome))
            outcome = fallback
        out.append(list(outcome) if isinstance(outcome, list) else outcome)
    return pd.Series(out, index=series.index, dtype=dtype)


def to_iso_date(value: Any, date_format: str | None) -> str | None:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = to_text(value)
    if text is None:
        return None
    try:
        if date_format:
            return dt.datetime.strptime(text, date_format).date().isoformat()
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise Unreadable("date", f"expected a date as {date_format or 'YYYY-MM-DD'}") from None
