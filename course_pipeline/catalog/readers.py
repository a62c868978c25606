"""Readers: CSV, Excel workbooks and CMS JSON exports into frames of the source's own columns.

Each reader returns, per table, a DataFrame whose columns are the source's column names (or, for
JSON, the configured paths) plus the origin columns, so every value can be traced to its cell.
Values are left as the source wrote them; values.py turns them into ours.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import charset_normalizer
import pandas as pd
import python_calamine

from .errors import SourceReadError
from .sources import SourceConfig

CSV_DELIMITERS = (",", ";", "\t", "|")
_SNIFF_BYTES = 256 * 1024
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


@dataclass(frozen=True)
class UnevaluatedFormula:
    """A workbook cell holding a formula that was never calculated (no cached value to read)."""

    formula: str

    def __str__(self) -> str:
        return self.formula


def _origin(frame: pd.DataFrame, *, source: str, file: Path, sheet: str | None, rows: Any) -> pd.DataFrame:
    frame["_source"] = pd.Categorical([source] * len(frame)) if len(frame) else pd.Series(dtype="category")
    frame["_file"] = pd.Categorical([file.name] * len(frame)) if len(frame) else pd.Series(dtype="category")
    frame["_sheet"] = pd.Series([sheet] * len(frame), index=frame.index, dtype="str")
    frame["_row"] = pd.Series(rows, index=frame.index, dtype="int64")
    return frame


# ---------------------------------------------------------------------------------------------- CSV

def detect_encoding(file: Path) -> str:
    """BOM first, then UTF-8 if every byte decodes, then cp1252 (what Excel writes in Western Europe),
    and only when cp1252 cannot decode the bytes, charset-normalizer's best guess."""
    with file.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
        for bom, encoding in _BOMS:
            if head.startswith(bom):
                return encoding
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            chunk = head
            while chunk:
                decoder.decode(chunk)
                chunk = fh.read(1 << 20)
            decoder.decode(b"", final=True)
            return "utf-8"
        except UnicodeDecodeError:
            pass
    if b"\x00" in head:
        raise SourceReadError(f"{file.name} holds binary data, not text: is it a workbook (format: xlsx)?")
    try:
        head.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        guess = charset_normalizer.from_bytes(head).best()
        if guess is None:
            raise SourceReadError(f"{file.name}: cannot tell its text encoding; set encoding: in sources.yaml"
                                  ) from None
        return guess.encoding


def sniff_delimiter(header_line: str) -> str:
    """The candidate that splits the header into the most fields; ',' when none splits it."""
    best, best_fields = ",", 1
    for delimiter in CSV_DELIMITERS:
        fields = next(csv.reader([header_line], delimiter=delimiter), [])
        if len(fields) > best_fields:
            best, best_fields = delimiter, len(fields)
    return best


def _header_fields(text_head: str, header_row: int, delimiter: str | None) -> tuple[list[str], str]:
    reader_lines = io.StringIO(text_head)
    lines = [reader_lines.readline() for _ in range(header_row)]
    header_line = lines[-1].rstrip("\r\n")
    delimiter = delimiter or sniff_delimiter(header_line)
    return next(csv.reader([header_line], delimiter=delimiter), []), delimiter


def duplicated_headers(fields: list[str]) -> dict[str, list[int]]:
    """Header names that occur more than once, with their 1-based column positions."""
    positions: dict[str, list[int]] = {}
    for i, name in enumerate(fields, start=1):
        if name.strip():
            positions.setdefault(name.strip(), []).append(i)
    return {name: pos for name, pos in positions.items() if len(pos) > 1}


def read_csv_table(source: SourceConfig, table: str) -> pd.DataFrame:
    file = source.table_file(table)
    tcfg = source.tables[table]
    if file.stat().st_size == 0:
        raise SourceReadError(f"{file.name} is empty: expected a header row and rows of {table}")
    encoding = source.encoding or detect_encoding(file)
    try:
        with file.open("r", encoding=encoding, newline="") as fh:
            text_head = fh.read(_SNIFF_BYTES)
    except (UnicodeDecodeError, LookupError) as exc:
        raise SourceReadError(_decode_message(file, encoding, exc)) from None
    if not text_head.strip():
        raise SourceReadError(f"{file.name} is empty: expected a header row and rows of {table}")
    fields, delimiter = _header_fields(text_head.lstrip("\ufeff"), tcfg.header_row, source.delimiter)
    try:
        frame = pd.read_csv(
            file, sep=delimiter, encoding=encoding, dtype="str", keep_default_na=False, na_values=[""],
            skip_blank_lines=False, header=tcfg.header_row - 1, engine="c", quotechar='"',
        )
    except UnicodeDecodeError as exc:
        raise SourceReadError(_decode_message(file, encoding, exc)) from None
    except pd.errors.EmptyDataError:
        raise SourceReadError(f"{file.name} is empty: expected a header row and rows of {table}") from None
    except pd.errors.ParserError as exc:
        raise SourceReadError(f"{file.name} is not well-formed CSV (delimiter {delimiter!r}): {exc}") from None
    # pandas renames a repeated header to "Title.1"; keep the names as written and let mapping decide.
    frame.attrs["duplicated_headers"] = duplicated_headers(fields)
    frame.attrs["delimiter"] = delimiter
    frame.attrs["encoding"] = encoding
    frame = _drop_empty_trailing_columns(frame)
    first_data_row = tcfg.header_row + 1
    frame = _origin(frame, source=source.name, file=file, sheet=None,
                    rows=range(first_data_row, first_data_row + len(frame)))
    return _drop_blank_rows(frame)


def _decode_message(file: Path, encoding: str, exc: Exception) -> str:
    if isinstance(exc, LookupError):
        return f"unknown encoding {encoding!r} for {file.name}; use e.g. utf-8 or cp1252"
    where = f" at byte {exc.start}" if isinstance(exc, UnicodeDecodeError) else ""
    return (f"{file.name} is not valid {encoding}{where}; set encoding: in sources.yaml to the file's "
            "encoding (e.g. cp1252 for Excel's European CSV), or leave it out to detect it")


def _drop_empty_trailing_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns with no header and no value (a spreadsheet's stray separators) carry nothing."""
    unnamed = [c for c in frame.columns if str(c).startswith("Unnamed: ") and frame[c].isna().all()]
    return frame.drop(columns=unnamed) if unnamed else frame


def _drop_blank_rows(frame: pd.DataFrame) -> pd.DataFrame:
    data_columns = [c for c in frame.columns if not str(c).startswith("_")]
    if not data_columns or not len(frame):
        return frame
    blank = frame[data_columns].isna().all(axis=1)
    return frame[~blank].reset_index(drop=True) if blank.any() else frame


# -------------------------------------------------------------------------------------------- Excel

_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[ >/]")


def _open_workbook(file: Path) -> python_calamine.CalamineWorkbook:
    try:
        return python_calamine.CalamineWorkbook.from_path(str(file))
    except Exception as exc:  # calamine raises several types (zip, xml, password); all mean "unreadable"
        raise SourceReadError(f"{file.name} is not a readable Excel workbook: {exc}") from None


def _formula_cells(file: Path, sheet: str) -> dict[tuple[int, int], str]:
    """(row, column) -> formula text of a sheet's formula cells, or {} when the workbook has none.

    calamine reads only cached values; a formula never calculated (a file written by a script)
    reads as empty. A quick scan for formula tags spares the slow openpyxl pass in the usual case.
    """
    try:
        with zipfile.ZipFile(file) as archive:
            has_formula = any(
                _FORMULA_TAG.search(archive.read(name))
                for name in archive.namelist() if name.startswith("xl/worksheets/") and name.endswith(".xml")
            )
    except zipfile.BadZipFile:
        return {}
    if not has_formula:
        return {}
    import openpyxl  # only here: it is slow to import and rarely needed

    workbook = openpyxl.load_workbook(file, read_only=True, data_only=False)
    try:
        cells = {}
        for row in workbook[sheet].iter_rows():
            for cell in row:
                if getattr(cell, "data_type", None) == "f" or (isinstance(cell.value, str)
                                                              and cell.value.startswith("=")):
                    cells[(cell.row, cell.column)] = str(cell.value)
        return cells
    finally:
        workbook.close()


def resolve_sheet(names: list[str], wanted: str, *, file: Path) -> str:
    if wanted in names:
        return wanted
    folded = [n for n in names if n.strip().lower() == wanted.strip().lower()]
    if len(folded) == 1:
        return folded[0]
    raise SourceReadError(f"{file.name} has no sheet {wanted!r}; its sheets are: "
                          f"{', '.join(repr(n) for n in names)} (set sheet: in sources.yaml)")


def read_xlsx_table(source: SourceConfig, table: str) -> pd.DataFrame:
    file = source.table_file(table)
    tcfg = source.tables[table]
    workbook = _open_workbook(file)
    try:
        sheet_name = resolve_sheet(workbook.sheet_names, tcfg.sheet or table, file=file)
        rows = workbook.get_sheet_by_name(sheet_name).to_python(skip_empty_area=False)
    except SourceReadError:
        raise
    except Exception as exc:
        raise SourceReadError(f"{file.name}: cannot read sheet {tcfg.sheet or table!r}: {exc}") from None
    finally:
        workbook.close()
    if len(rows) < tcfg.header_row:
        raise SourceReadError(f"sheet {sheet_name!r} of {file.name} is empty: expected a header in row "
                              f"{tcfg.header_row}")
    header = [str(h).strip() if h not in (None, "") else f"Unnamed: {i}"
              for i, h in enumerate(rows[tcfg.header_row - 1])]
    body = rows[tcfg.header_row:]
    for (row, col), formula in _formula_cells(file, sheet_name).items():
        index = row - tcfg.header_row - 1
        if 0 <= index < len(body) and col - 1 < len(body[index]) and body[index][col - 1] in ("", None):
            body[index][col - 1] = UnevaluatedFormula(formula)
    frame = pd.DataFrame(body, columns=header, dtype=object).replace({"": None})
    frame.attrs["duplicated_headers"] = duplicated_headers([h for h in header if not h.startswith("Unnamed: ")])
    frame = _deduplicate_columns(frame)
    frame = _drop_empty_trailing_columns(frame)
    first_data_row = tcfg.header_row + 1
    frame = _origin(frame, source=source.name, file=file, sheet=sheet_name,
                    rows=range(first_data_row, first_data_row + len(frame)))
    return _drop_blank_rows(frame)


def _deduplicate_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Name repeated headers as pandas' CSV reader does ("Title", "Title.1") so columns stay addressable."""
    seen: dict[str, int] = {}
    names = []
    for name in frame.columns:
        count = seen.get(name, 0)
        names.append(name if count == 0 else f"{name}.{count}")
        seen[name] = count + 1
    frame.columns = names
    return frame


# ------------------------------------------------------------------------------------------ CMS JSON

# Parent keys a nested record inherits from the records around it, unless mapped explicitly.
INHERITED_PREFIX = "@"


def get_path(record: Any, path: str) -> Any:
    """Follow a dotted path (a.b.0.c) through dicts and lists; `*` maps the rest over a list
    (topics.data.*.attributes.name). None where the path leads nowhere."""
    value = record
    parts = path.split(".")
    if parts[0] == "$":  # `$` is the record itself (at the top: the document's root)
        parts = parts[1:]
        if not parts:
            return record
    for i, part in enumerate(parts):
        if part == "*":
            if not isinstance(value, list):
                return None
            rest = ".".join(parts[i + 1:])
            return [get_path(item, rest) if rest else item for item in value]
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


_FILTER = re.compile(r"^(?P<path>.*?)\[(?P<field>[^\]=!]+?)\s*(?P<op>!?=)\s*(?P<values>[^\]]*)\]$")


def _records_at(node: Any, path: str, where: str) -> list[tuple[str, dict]]:
    """The records at path; `path[field=a|b]` keeps those whose field is a or b, `[field!=a]` the others."""
    keep = None
    match = _FILTER.match(path)
    if match:
        path, field, wanted = match["path"], match["field"].strip(), set(match["values"].split("|"))
        negate = match["op"] == "!="
        keep = lambda rec: (str(get_path(rec, field)) in wanted) != negate  # noqa: E731
    found = get_path(node, path)
    if found is None:
        return []
    at = where if path == "$" else f"{where}.{path}"
    if isinstance(found, dict):  # a single record (a course-level object, a related record) rather than a list
        return [(at, found)] if keep is None or keep(found) else []
    if not isinstance(found, list):
        raise SourceReadError(f"{at} should be a list of records, found {type(found).__name__}")
    return [(f"{at}[{i}]", rec) for i, rec in enumerate(found)
            if isinstance(rec, dict) and (keep is None or keep(rec))]


def load_json(file: Path) -> Any:
    try:
        with file.open("rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise SourceReadError(f"cannot open {file.name}: {exc}") from None
    if not raw.strip():
        raise SourceReadError(f"{file.name} is empty: expected a JSON document")
    try:
        return json.loads(raw.decode(detect_json_encoding(raw)))
    except json.JSONDecodeError as exc:
        raise SourceReadError(f"{file.name} is not valid JSON: {exc.msg} at line {exc.lineno}, "
                              f"column {exc.colno}") from None
    except UnicodeDecodeError as exc:
        raise SourceReadError(f"{file.name} is not valid UTF-8 at byte {exc.start}") from None


def detect_json_encoding(raw: bytes) -> str:
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            return encoding
    return "utf-8"


def read_cms_tables(source: SourceConfig) -> dict[str, pd.DataFrame]:
    """Walk courses -> modules (-> sub-modules) -> lessons -> materials, each by its configured path."""
    document = load_json(source.path)
    tables = source.tables
    rows: dict[str, list[dict]] = {name: [] for name in tables}

    def key_of(table: str, record: dict) -> Any:
        column = tables[table].columns.get({"courses": "course_id", "modules": "module_id",
                                            "lessons": "lesson_id"}[table], "id")
        return get_path(record, column)

    def emit(table: str, where: str, record: dict, inherited: dict[str, Any]) -> None:
        row = {path: get_path(record, path) for path in tables[table].columns.values()}
        row.update({path: get_path(record, path) for path in tables[table].custom_fields.values()})
        row.update({INHERITED_PREFIX + k: v for k, v in inherited.items()})
        row["_sheet"] = where
        rows[table].append(row)

    def walk_lessons(node: Any, where: str, inherited: dict[str, Any]) -> None:
        if "lessons" not in tables:
            return
        for lwhere, lesson in _records_at(node, tables["lessons"].path, where):
            emit("lessons", lwhere, lesson, inherited)
            if "materials" in tables:
                for mwhere, material in _records_at(lesson, tables["materials"].path, lwhere):
                    emit("materials", mwhere, material, {"lesson_id": key_of("lessons", lesson)})

    def walk_modules(node: Any, where: str, path: str, course_id: Any, parent_id: Any) -> None:
        for mwhere, module in _records_at(node, path, where):
            inherited = {"course_id": course_id}
            if parent_id is not None:
                inherited["parent_module_id"] = parent_id
            emit("modules", mwhere, module, inherited)
            module_id = key_of("modules", module)
            walk_lessons(module, mwhere, {"course_id": course_id, "module_id": module_id})
            if tables["modules"].children:
                walk_modules(module, mwhere, tables["modules"].children, course_id, module_id)

    top = tables["courses"].path
    for cwhere, course in _records_at(document, top, "$"):
        emit("courses", cwhere, course, {})
        course_id = key_of("courses", course)
        if "modules" in tables:
            walk_modules(course, cwhere, tables["modules"].path, course_id, None)
        else:
            walk_lessons(course, cwhere, {"course_id": course_id})

    frames = {}
    for table, records in rows.items():
        frame = pd.DataFrame.from_records(records) if records else pd.DataFrame(
            columns=list(tables[table].columns.values()) + ["_sheet"])
        sheets = frame.pop("_sheet").tolist()
        frame = frame.astype(object).where(frame.notna(), None)
        frame = _origin(frame, source=source.name, file=source.path, sheet=None,
                        rows=range(1, len(frame) + 1))
        frame["_sheet"] = pd.Series(sheets, index=frame.index, dtype="str")
        frames[table] = frame
    return frames


def read_tables(source: SourceConfig) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Every configured table of a source, and for each table that cannot be read, why."""
    frames: dict[str, pd.DataFrame] = {}
    errors: dict[str, str] = {}
    if source.format in ("imscc", "olx"):  # learning-platform exports: read straight into our columns
        from .cartridge import read_cartridge_tables
        from .olx import read_olx_tables

        try:
            return (read_cartridge_tables if source.format == "imscc" else read_olx_tables)(source)
        except SourceReadError as exc:
            return {}, {table: str(exc) for table in source.tables}
    if source.format == "cms_json":
        try:
            frames = read_cms_tables(source)
        except SourceReadError as exc:
            errors = {table: str(exc) for table in source.tables}
        return frames, errors
    reader = read_csv_table if source.format == "csv" else read_xlsx_table
    for table in source.tables:
        try:
            frames[table] = reader(source, table)
        except SourceReadError as exc:
            errors[table] = str(exc)
    return frames, errors
