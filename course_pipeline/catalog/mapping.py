"""Mapping: a source's own columns into our four tables, values parsed into our types.

`extract_catalog` is the whole extract step: read every configured table, map and parse it, and
keep what could not be read (a table, or a cell) with the reason, so nothing is silently lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from . import values
from .errors import ConfigError, SourceReadError
from .readers import INHERITED_PREFIX, read_tables
from .rejects import REJECT_COLUMNS, rejects_from_cells
from .schema import ORIGIN_COLUMNS, TABLE_ORDER, TABLES
from .sources import SourceConfig

# Built-in defaults, used where neither the source nor its `defaults:` give a value.
BUILTIN_DEFAULTS: dict[str, dict[str, Any]] = {
    "courses": {"course_type": "course", "status": "published", "is_free": False},
    "modules": {"status": "published"},
    "lessons": {"status": "published"},
}

_TEXT_KINDS = {"id", "text", "html", "url"}
_EMPTY_DTYPES = {"int": "Int64", "duration": "Int64", "bool": "boolean"}


@dataclass
class Catalog:
    """One source's catalog in our columns, before validation."""

    source: str
    tables: dict[str, pd.DataFrame]  # all four tables; a table the source lacks is empty
    cell_rejects: pd.DataFrame  # cells that could not be read (rows rejected at validation)
    table_errors: dict[str, str] = field(default_factory=dict)  # table -> why it could not be read
    content_hash: str = ""
    blank_rows: dict[str, int] = field(default_factory=dict)  # table -> records dropped for holding nothing
    hidden_rows: dict[str, int] = field(default_factory=dict)  # table -> hidden workbook rows skipped
    notes: list[str] = field(default_factory=list)  # what was skipped or read that a person should know

    def row_counts(self) -> dict[str, int]:
        return {name: len(frame) for name, frame in self.tables.items()}


def empty_table(table: str) -> pd.DataFrame:
    columns = {}
    for column, kind in TABLES[table].columns.items():
        dtype = _EMPTY_DTYPES.get(kind, "str" if kind in _TEXT_KINDS | {"enum"} else object)
        columns[column] = pd.Series(dtype=dtype)
    columns.update({"_source": pd.Series(dtype="category"), "_file": pd.Series(dtype="category"),
                    "_sheet": pd.Series(dtype="str"), "_row": pd.Series(dtype="int64")})
    return pd.DataFrame(columns)


def _resolve_columns(frame: pd.DataFrame, source: SourceConfig, table: str) -> dict[str, str]:
    """our column -> the frame's column holding it; errors name every mapped column the file lacks."""
    spec, tcfg = TABLES[table], source.tables[table]
    duplicated = frame.attrs.get("duplicated_headers", {})
    file = source.table_file(table).name
    resolved, missing = {}, []
    for ours in spec.columns:
        theirs = tcfg.columns.get(ours)
        if theirs is None and ours in frame.columns and source.format != "cms_json":
            theirs = ours  # a column already named as ours needs no mapping
        if theirs is not None:
            if theirs in duplicated:
                raise SourceReadError(
                    f"{file}: column {theirs!r} (mapped to {ours}) appears {len(duplicated[theirs])} times in the "
                    f"header, at columns {', '.join(map(str, duplicated[theirs]))}; rename one so it is clear "
                    "which to read", source=source.name, table=table)
            if theirs in frame.columns:
                resolved[ours] = theirs
            else:
                missing.append((ours, theirs))
        elif INHERITED_PREFIX + ours in frame.columns:
            resolved[ours] = INHERITED_PREFIX + ours
    for field_name, theirs in tcfg.custom_fields.items():
        if theirs not in frame.columns:
            missing.append((f"custom_fields.{field_name}", theirs))
    header = [c for c in frame.columns if not str(c).startswith(("_", INHERITED_PREFIX))]
    hint = ""
    if len(header) == 1 and source.format == "csv":
        hint = (f" The header was read as one column ({header[0][:60]!r}): is the delimiter one of , ; tab |? "
                "Otherwise set delimiter: in sources.yaml.")
    if missing:
        raise SourceReadError(
            f"{file}: mapped column(s) not found: "
            + ", ".join(f"{ours} <- {theirs!r}" for ours, theirs in missing)
            + f". The file's columns are: {', '.join(repr(c) for c in header)}.{hint}",
            source=source.name, table=table)
    defaults = {**BUILTIN_DEFAULTS.get(table, {}), **source.defaults.get(table, {})}
    unmet = [c for c in spec.required if c not in resolved and c not in defaults
             and not (table == "lessons" and c == "course_id")]
    if unmet:
        raise SourceReadError(
            f"{file}: required column(s) {', '.join(unmet)} are neither in the file nor mapped; map them under "
            f"tables.{table}.columns in sources.yaml.{hint}", source=source.name, table=table)
    return resolved


_CONVENTION_PARSERS = {"enum": values.parse_enum, "duration": values.parse_duration, "bool": values.parse_bool,
                       "list": values.parse_list, "languages": values.parse_languages}


def _parse(kind: str, series: pd.Series, column: str, errors: values.CellErrors, source: SourceConfig):
    aliases = source.conventions.aliases.get(column)
    if aliases and kind != "enum":  # parse_enum applies them after folding the word
        series = values.apply_aliases(series, aliases)
    if kind in _TEXT_KINDS:
        single_line = kind == "id" or column in values.SINGLE_LINE_COLUMNS
        return values.parse_text(series, column, errors, single_line=single_line)
    if kind == "int":
        return values.parse_int(series, column, errors)
    return _CONVENTION_PARSERS[kind](series, column, errors, source.conventions)


def _custom_fields(frame: pd.DataFrame, source: SourceConfig, errors: values.CellErrors) -> pd.Series:
    mapping = source.tables["courses"].custom_fields
    conv = source.conventions
    columns = {}
    for name, theirs in mapping.items():
        if name in conv.date_fields:
            parse = lambda v: values.to_iso_date(v, conv.date_format)  # noqa: E731
        else:
            parse = values.to_text
        columns[name] = values.parse_unique(frame[theirs], parse, f"custom_fields.{name}", errors, dtype=object)
    if not columns:
        return pd.Series([{} for _ in range(len(frame))], index=frame.index, dtype=object)
    parsed = pd.DataFrame(columns)
    return pd.Series([{k: v for k, v in row.items() if v is not None and v == v}
                      for row in parsed.to_dict("records")], index=frame.index, dtype=object)


def map_table(frame: pd.DataFrame, source: SourceConfig, table: str) -> tuple[pd.DataFrame, values.CellErrors]:
    """The source's frame in our columns and types, and the cells that could not be read."""
    spec = TABLES[table]
    resolved = _resolve_columns(frame, source, table)
    defaults = {**BUILTIN_DEFAULTS.get(table, {}), **source.defaults.get(table, {})}
    errors = values.CellErrors()
    out = {}
    for column, kind in spec.columns.items():
        if column == "custom_fields":
            out[column] = _custom_fields(frame, source, errors)
            continue
        raw = frame[resolved[column]] if column in resolved else pd.Series([None] * len(frame), index=frame.index,
                                                                          dtype=object)
        parsed = _parse(kind, raw, column, errors, source)
        if column in defaults:
            parsed = _fill_default(parsed, kind, _parse_default(defaults[column], kind, table, column, source))
        out[column] = parsed
    mapped = pd.DataFrame(out, index=frame.index)
    if table == "materials":
        mapped["file_type"] = _file_types(mapped["file_type"], mapped["url"])
    for column in ORIGIN_COLUMNS:
        mapped[column] = frame[column]
    return mapped, errors


def check_defaults(source: SourceConfig) -> None:
    """ConfigError for the first default that does not parse as its column's values would: a source with one
    cannot be configured, which is said before any of its files is read."""
    for table, columns in source.defaults.items():
        for column, value in columns.items():
            if column != "custom_fields":  # kept as given (map_table does not parse them)
                _parse_default(value, TABLES[table].columns[column], table, column, source)


def _parse_default(value: Any, kind: str, table: str, column: str, source: SourceConfig) -> Any:
    """A default is parsed like a value from the source; one that cannot be read is a config error."""
    errors = values.CellErrors()
    parsed = _parse(kind, pd.Series([value], dtype=object), column, errors, source).iloc[0]
    if errors.items:
        raise ConfigError(f"defaults.{table}.{column}: {errors.items[0][4]}", source=source.name)
    return parsed


def _fill_default(parsed: pd.Series, kind: str, default: Any) -> pd.Series:
    if kind in ("list", "languages"):
        return parsed.map(lambda items: items if items else list(default))
    return parsed.fillna(default)


def _file_types(file_type: pd.Series, url: pd.Series) -> pd.Series:
    """A material's kind as given (".PDF" -> pdf), else from its URL's extension."""
    given = file_type.str.lower().str.strip().str.lstrip(".")
    from_url = url.str.extract(r"\.([A-Za-z0-9]{1,10})(?:[?#][^/]*)?$", expand=False).str.lower()
    return given.where(given.notna() & (given != ""), from_url).astype("str")


def extract_catalog(source: SourceConfig) -> Catalog:
    """Read, map and parse every table of a source. Never raises for bad data: a table that cannot be
    read is in table_errors, a cell that cannot be parsed in cell_rejects."""
    frames, table_errors = read_tables(source)
    tables: dict[str, pd.DataFrame] = {}
    cell_rejects = []
    blank_rows, hidden_rows, notes = {}, {}, []
    for table in TABLE_ORDER:
        if table not in frames:
            tables[table] = empty_table(table)
            continue
        attrs = frames[table].attrs
        blank_rows[table] = int(attrs.get("blank_rows", 0))
        hidden_rows[table] = int(attrs.get("hidden_rows", 0))
        notes += [f"{table}: {note}" for note in attrs.get("notes", [])]
        if blank_rows[table]:
            notes.append(f"{table}: {blank_rows[table]:,} blank record(s) skipped")
        try:
            mapped, errors = map_table(frames[table], source, table)
        except SourceReadError as exc:
            table_errors[table] = str(exc)
            tables[table] = empty_table(table)
            continue
        tables[table] = mapped
        if errors.items:
            cell_rejects.append(rejects_from_cells(table, mapped, errors.items))
    rejects = pd.concat(cell_rejects, ignore_index=True) if cell_rejects else pd.DataFrame(columns=REJECT_COLUMNS)
    return Catalog(source=source.name, tables=tables, cell_rejects=rejects, table_errors=table_errors,
                   content_hash=source.content_hash(), blank_rows=blank_rows, hidden_rows=hidden_rows, notes=notes)
