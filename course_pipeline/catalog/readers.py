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
import numpy as np
import pandas as pd
import python_calamine

from .errors import SourceReadError
from .rejects import display_value
from .sources import InputLimits, SourceConfig

CSV_DELIMITERS = (",", ";", "\t", "|")
_SNIFF_BYTES = 256 * 1024
# UTF-32's BOMs first: the little-endian one begins with UTF-16's.
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# The single-byte encodings catalogs are written in (Excel's Western, Central European and Cyrillic CSV,
# and their ISO cousins). charset-normalizer ranks them; a near tie between two that read the file
# differently is refused rather than guessed.
ENCODING_CANDIDATES = ("cp1252", "cp1250", "latin_1", "iso8859_2", "iso8859_15", "cp1251")
_CHAOS_WINDOW = 0.2  # candidates this close to the best in charset-normalizer's "mess" are in the running
_CONFIDENT_LANGUAGE = 0.6  # coherence at which charset-normalizer's language of a reading is trusted
_COHERENCE_MARGIN = 0.05  # ... and the best must beat each that reads differently by this much in language fit
_C0_C1 = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_MIXED_SCRIPT = re.compile(r"(?=\w*[A-Za-z\u00c0-\u024f])(?=\w*[\u0400-\u04ff])\w+")  # a word in Latin and Cyrillic
_WESTERN, _CENTRAL, _CYRILLIC = ("cp1252", "latin_1", "iso8859_15"), ("cp1250", "iso8859_2"), ("cp1251",)
# The encodings a language is written in (charset-normalizer names the language of each reading).
LANGUAGE_ENCODINGS = {
    **dict.fromkeys(("English", "German", "French", "Dutch", "Italian", "Spanish", "Portuguese", "Danish",
                     "Swedish", "Norwegian", "Finnish", "Catalan"), _WESTERN),
    **dict.fromkeys(("Polish", "Czech", "Slovak", "Hungarian", "Croatian", "Slovene", "Romanian"), _CENTRAL),
    **dict.fromkeys(("Russian", "Ukrainian", "Bulgarian", "Serbian", "Kazakh"), _CYRILLIC),
}


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
    """BOM first (UTF-32 told from UTF-16), then UTF-8 if every byte decodes; a file that is UTF-8 but
    for a few bytes is refused (never read as another encoding, which would garble every accent).
    Otherwise charset-normalizer ranks the usual single-byte encodings; when two that read the file
    differently are close, the file is refused with their names and the `encoding:` setting."""
    with file.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
        for bom, encoding in _BOMS:
            if head.startswith(bom):
                return encoding
        decoder = codecs.getincrementaldecoder("utf-8")()
        consumed, chunk = 0, head
        try:
            while chunk:
                decoder.decode(chunk)
                consumed += len(chunk)
                chunk = fh.read(1 << 20)
            decoder.decode(b"", final=True)
            return "utf-8"
        except UnicodeDecodeError as exc:
            bad_at = consumed + exc.start - len(decoder.getstate()[0])
            sample = chunk
    if b"\x00" in head:
        raise SourceReadError(f"{file.name} holds binary data, not text: is it a workbook (format: xlsx)?")
    text = sample.decode("utf-8", errors="replace")
    multibyte = sum(1 for ch in text if "\x7f" < ch != "\ufffd")
    if multibyte >= max(text.count("\ufffd"), 1):
        raise SourceReadError(f"{file.name} is UTF-8 except at byte {bad_at:,} (and maybe others): a stray byte, "
                              "perhaps from pasting; fix the file, or set encoding: in sources.yaml if it really "
                              "is another encoding")
    return _ranked_encoding(file, head)


def _ranked_encoding(file: Path, head: bytes) -> str:
    # A C1 control is a byte that encoding does not use for text; a word of Latin and Cyrillic letters is
    # a Western file read as Cyrillic (or the reverse).
    matches = [m for m in charset_normalizer.from_bytes(head, cp_isolation=list(ENCODING_CANDIDATES))
               if not _C0_C1.search(str(m)) and not _MIXED_SCRIPT.search(str(m))]
    if not matches:
        raise SourceReadError(f"{file.name}: cannot tell its text encoding (none of "
                              f"{', '.join(ENCODING_CANDIDATES)} reads it); set encoding: in sources.yaml")
    best = min(matches, key=lambda m: (m.chaos, -m.coherence))
    # A rival reads the file differently and is about as clean; a coherence of 0 means no language fit
    # could be measured (short text), which is no evidence against that reading.
    rivals = [m for m in matches if m.chaos <= best.chaos + _CHAOS_WINDOW and str(m) != str(best)
              and (m.coherence > best.coherence - _COHERENCE_MARGIN or not m.coherence)]
    if rivals:
        # Close readings: the one in an encoding its own language is written in wins (German text
        # read as cp1250 is still German, and German is not written in cp1250).
        # Only a confident language fit decides; on short text charset-normalizer's language is a guess.
        fitting = [m for m in (best, *rivals) if m.coherence >= _CONFIDENT_LANGUAGE
                   and m.encoding in LANGUAGE_ENCODINGS.get(m.language, ())]
        if fitting and len({str(m) for m in fitting}) == 1:
            return fitting[0].encoding
        names = ", ".join(dict.fromkeys(m.encoding for m in (best, *rivals)))
        raise SourceReadError(f"{file.name}: cannot tell its text encoding for sure; it reads differently as "
                              f"{names}; set encoding: in sources.yaml to the one it was saved in")
    return best.encoding


# ------------------------------------------------------------------------------------------ limits

def check_file_size(source: SourceConfig, file: Path) -> None:
    size, limit = file.stat().st_size, source.limits.file_bytes
    if size > limit:
        raise SourceReadError(file_size_message(file, size, source.limits), source=source.name)


def file_size_message(file: Path, size: int, limits: InputLimits) -> str:
    return (f"{file.name} is {size:,} bytes, more than the limit of {limits.file_bytes:,} bytes "
            f"({limits.file_mb:g} MB: limits.file_mb in sources.yaml)")


def check_header_width(source: SourceConfig, file: Path, width: int) -> None:
    if width > source.limits.columns:
        raise SourceReadError(f"{file.name}: the header has {width:,} columns, more than the limit of "
                              f"{source.limits.columns:,} (limits.columns in sources.yaml)", source=source.name)


def _longest(series: pd.Series) -> tuple[int, Any]:
    """The length of the longest text in a column and its row label (0, None when it holds no text)."""
    if pd.api.types.is_string_dtype(series) and series.dtype != object:
        lengths = series.str.len()
    else:
        lengths = series.map(lambda v: len(v) if isinstance(v, str) else 0)
    lengths = lengths.fillna(0)
    if not len(lengths) or lengths.max() == 0:
        return 0, None
    return int(lengths.max()), lengths.idxmax()


def check_cell_sizes(frame: pd.DataFrame, source: SourceConfig, file: Path) -> None:
    """A cell beyond limits.cell_chars refuses the table: it is a broken file (an unclosed quote that
    swallowed the rest), or hostile, and would otherwise be sent to every vendor."""
    limit = source.limits.cell_chars
    for column in frame.columns:
        if str(column).startswith("_"):
            continue
        longest, label = _longest(frame[column])
        if longest > limit:
            row = frame.at[label, "_row"] if "_row" in frame.columns else label
            raise SourceReadError(f"{file.name}: the cell in column {str(column)[:40]!r}, row {row}, holds "
                                  f"{longest:,} characters, more than the limit of {limit:,} "
                                  "(limits.cell_chars in sources.yaml)", source=source.name)


def json_depth(raw: bytes) -> int:
    """How deeply a JSON document nests, counted without parsing it (strings removed, then brackets)."""
    without_strings = re.sub(rb'"(?:[^"\\]|\\.)*"', b"", raw)
    brackets = np.frombuffer(without_strings, dtype=np.uint8)
    opens = (brackets == ord("[")) | (brackets == ord("{"))
    closes = (brackets == ord("]")) | (brackets == ord("}"))
    steps = opens.astype(np.int32) - closes.astype(np.int32)
    return int(np.cumsum(steps).max()) if len(steps) else 0


def sniff_delimiter(header_line: str) -> str:
    """The candidate that splits the header into the most fields; ',' when none splits it."""
    best, best_fields = ",", 1
    for delimiter in CSV_DELIMITERS:
        try:
            fields = next(csv.reader([header_line], delimiter=delimiter), [])
        except csv.Error:  # one field past csv's field limit: this delimiter does not split the header
            continue
        if len(fields) > best_fields:
            best, best_fields = delimiter, len(fields)
    return best


def _header_fields(text_head: str, header_row: int, delimiter: str | None) -> tuple[list[str], str]:
    reader_lines = io.StringIO(text_head)
    lines = [reader_lines.readline() for _ in range(header_row)]
    header_line = lines[-1].rstrip("\r\n")
    delimiter = delimiter or sniff_delimiter(header_line)
    try:
        return next(csv.reader([header_line], delimiter=delimiter), []), delimiter
    except csv.Error:  # a header field longer than csv's field limit (128 KiB) is no header
        return [header_line], delimiter


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
    check_file_size(source, file)
    encoding = source.encoding or detect_encoding(file)
    try:
        with file.open("r", encoding=encoding, newline="") as fh:
            text_head = fh.read(_SNIFF_BYTES)
    except (UnicodeDecodeError, LookupError) as exc:
        raise SourceReadError(_decode_message(file, encoding, exc)) from None
    if not text_head.strip():
        raise SourceReadError(f"{file.name} is empty: expected a header row and rows of {table}")
    lines = len(text_head.splitlines())
    if tcfg.header_row > lines and len(text_head) < _SNIFF_BYTES:
        raise SourceReadError(f"{file.name} has {lines:,} lines; header_row {tcfg.header_row} is past its end",
                              source=source.name)
    fields, delimiter = _header_fields(text_head.lstrip("\ufeff"), tcfg.header_row, source.delimiter)
    check_header_width(source, file, len(fields))
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
        hint = "; a field opens a quote (\") that is never closed: an unbalanced quote" if "inside string" in str(
            exc) else ""
        raise SourceReadError(f"{file.name} is not well-formed CSV (delimiter {delimiter!r}): {exc}{hint}") from None
    # pandas renames a repeated header to "Title.1"; keep the names as written and let mapping decide.
    frame.attrs["duplicated_headers"] = duplicated_headers(fields)
    frame.attrs["delimiter"] = delimiter
    frame.attrs["encoding"] = encoding
    frame = _drop_empty_trailing_columns(frame)
    first_data_row = tcfg.header_row + 1
    frame = _origin(frame, source=source.name, file=file, sheet=None,
                    rows=range(first_data_row, first_data_row + len(frame)))
    check_cell_sizes(frame, source, file)
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
    """Records with no value at all carry nothing; how many were dropped is kept (attrs["blank_rows"])
    for the report."""
    frame.attrs["blank_rows"] = 0
    data_columns = [c for c in frame.columns if not str(c).startswith("_")]
    if not data_columns or not len(frame):
        return frame
    blank = frame[data_columns].isna().all(axis=1)
    if not blank.any():
        return frame
    attrs = dict(frame.attrs, blank_rows=int(blank.sum()))
    kept = frame[~blank].reset_index(drop=True)
    kept.attrs = attrs
    return kept


# -------------------------------------------------------------------------------------------- Excel

_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[ >/]")


_WORKBOOK_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")  # xlsx/xlsm/ods (zip), xls (OLE)


def _open_workbook(file: Path) -> python_calamine.CalamineWorkbook:
    with file.open("rb") as fh:
        magic = fh.read(4)
    if not magic.startswith(_WORKBOOK_MAGIC):
        raise SourceReadError(f"{file.name} is not an Excel workbook (a workbook is a zip archive, this file is "
                              "not): is it a CSV file with another name? Then set format: csv")
    try:
        return python_calamine.CalamineWorkbook.from_path(str(file))
    except Exception as exc:  # calamine raises several types (zip, xml, password); all mean "unreadable"
        raise SourceReadError(f"{file.name} is not a readable Excel workbook: {exc}") from None


_SHEET_TAG = re.compile(rb'<(?:\w+:)?sheet\b[^>]*>')
_ATTR = re.compile(rb'([\w:]+)="([^"]*)"')
_ROW_TAG = re.compile(rb'<(?:\w+:)?row\b[^>]*>')


def hidden_rows(file: Path, sheet: str) -> set[int]:
    """The 1-based numbers of the rows hidden in a sheet (calamine does not tell): from the sheet's XML,
    found through the workbook's relationships. Empty for a workbook that is not a zip (xls)."""
    try:
        with zipfile.ZipFile(file) as archive:
            rels = {dict(_ATTR.findall(tag)).get(b"Id"): dict(_ATTR.findall(tag)).get(b"Target")
                    for tag in re.findall(rb"<Relationship\b[^>]*>", archive.read("xl/_rels/workbook.xml.rels"))}
            for tag in _SHEET_TAG.findall(archive.read("xl/workbook.xml")):
                attrs = dict(_ATTR.findall(tag))
                if attrs.get(b"name", b"").decode("utf-8", "replace") != sheet.replace("&", "&amp;"):
                    continue
                target = (rels.get(attrs.get(b"r:id")) or b"").decode().lstrip("/")
                xml = archive.read(target if target.startswith("xl/") else f"xl/{target}")
                rows = set()
                for row in _ROW_TAG.findall(xml):
                    row_attrs = dict(_ATTR.findall(row))
                    if row_attrs.get(b"hidden") in (b"1", b"true") and row_attrs.get(b"r", b"").isdigit():
                        rows.add(int(row_attrs[b"r"]))
                return rows
    except (zipfile.BadZipFile, KeyError):
        pass
    return set()


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
    check_file_size(source, file)
    workbook = _open_workbook(file)
    try:
        sheet_name = resolve_sheet(workbook.sheet_names, tcfg.sheet or table, file=file)
        visibility = {m.name: str(m.visible) for m in workbook.sheets_metadata}
        sheet_hidden = not visibility.get(sheet_name, "Visible").endswith("Visible")
        if sheet_hidden and source.hidden == "skip":
            raise SourceReadError(f"sheet {sheet_name!r} of {file.name} is hidden, and hidden sheets are skipped; "
                                  "unhide it, or set hidden: read in sources.yaml to read it", source=source.name)
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
    check_header_width(source, file, sum(1 for h in header if not h.startswith("Unnamed: ")))
    body = rows[tcfg.header_row:]
    hidden = {r for r in hidden_rows(file, sheet_name) if r > tcfg.header_row}
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
    check_cell_sizes(frame, source, file)
    notes = [f"sheet {sheet_name!r} of {file.name} is hidden; read because hidden: read"] if sheet_hidden else []
    hidden_count = int(frame["_row"].isin(hidden).sum())
    if hidden_count and source.hidden == "skip":
        frame = frame[~frame["_row"].isin(hidden)].reset_index(drop=True)
        notes.append(f"{hidden_count:,} hidden row(s) of sheet {sheet_name!r} skipped (rows "
                     f"{', '.join(map(str, sorted(hidden)[:10]))}{', …' if len(hidden) > 10 else ''}); "
                     "set hidden: read in sources.yaml to read them")
    elif hidden_count:
        notes.append(f"{hidden_count:,} hidden row(s) of sheet {sheet_name!r} read because hidden: read")
    frame = _drop_blank_rows(frame)
    frame.attrs["notes"] = notes
    frame.attrs["hidden_rows"] = hidden_count if source.hidden == "skip" else 0
    return frame


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


def _split_filter(path: str) -> tuple[str, Any]:
    """`path[field=a|b]` -> (path, the filter's match), or (path, None) without a filter."""
    match = _FILTER.match(path)
    return (match["path"], match) if match else (path, None)


def _records_at(node: Any, path: str, where: str) -> list[tuple[str, dict]] | None:
    """The records at path; `path[field=a|b]` keeps those whose field is a or b, `[field!=a]` the others.
    None when the path leads nowhere in node (a key it lacks, or null), as opposed to an empty list."""
    keep = None
    path, match = _split_filter(path)
    if match:
        field, wanted = match["field"].strip(), set(match["values"].split("|"))
        negate = match["op"] == "!="
        keep = lambda rec: (str(get_path(rec, field)) in wanted) != negate  # noqa: E731
    found = get_path(node, path)
    if found is None:
        return None
    at = where if path == "$" else f"{where}.{path}"
    if isinstance(found, dict):  # a single record (a course-level object, a related record) rather than a list
        return [(at, found)] if keep is None or keep(found) else []
    if not isinstance(found, list):
        raise SourceReadError(f"{at} should be a list of records, found {type(found).__name__}")
    return [(f"{at}[{i}]", rec) for i, rec in enumerate(found)
            if isinstance(rec, dict) and (keep is None or keep(rec))]


_KEYS_SHOWN = 12


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    return {dict: "an object", list: "a list", str: "a string", type(None): "null"}.get(type(value), "a number")


def _keys(record: dict) -> str:
    keys = [display_value(k)[:40] for k in list(record)[:_KEYS_SHOWN]]
    more = f", … ({len(record)} keys)" if len(record) > _KEYS_SHOWN else ""
    return f"keys: {', '.join(keys)}{more}" if keys else "no keys"


def path_miss(node: Any, path: str, *, root: str) -> str:
    """Where a dotted path stops leading anywhere in node, and what is there instead: what a person needs to
    correct a path ("'data' has no key 'items' (keys: courses, meta)"). root names node ("the document")."""
    value, walked = node, []
    for part in [p for p in path.split(".") if p != "$"]:
        here = repr(".".join(walked)) if walked else root
        if isinstance(value, dict):
            if part not in value:
                return f"{here} has no key {part!r} ({_keys(value)})"
            value = value[part]
        elif isinstance(value, list) and part.isdigit():
            if int(part) >= len(value):
                return f"{here} holds {len(value)} item(s), so there is no item {part}"
            value = value[int(part)]
        else:
            return f"{here} is {_json_kind(value)}, not an object with the key {part!r}"
        walked.append(part)
    return f"{repr('.'.join(walked)) if walked else root} is null"


def _no_courses(document: Any, path: str) -> str | None:
    """Why the courses path found no course; None when it found an empty list (an empty catalog, not an error)."""
    base, match = _split_filter(path)
    found = get_path(document, base)
    at = "the document's root" if base == "$" else repr(base)
    if found is None:
        return path_miss(document, base, root="the document")
    if isinstance(found, list) and not found:
        return None
    records = [r for r in found if isinstance(r, dict)] if isinstance(found, list) else [found]
    if not records:
        return f"{at} holds {len(found)} value(s) but no records (JSON objects)"
    field = match["field"].strip()
    seen = sorted({display_value(get_path(r, field))[:40] or "(none)" for r in records})
    shown = ", ".join(seen[:_KEYS_SHOWN]) + (", …" if len(seen) > _KEYS_SHOWN else "")
    return (f"the filter [{field}{match['op']}{match['values']}] kept none of the {len(records)} record(s) at {at} "
            f"({field} values there: {shown})")


def load_json(file: Path, limits: InputLimits | None = None) -> Any:
    limits = limits or InputLimits()
    try:
        size = file.stat().st_size
        if size > limits.file_bytes:
            raise SourceReadError(file_size_message(file, size, limits))
        with file.open("rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise SourceReadError(f"cannot open {file.name}: {exc}") from None
    if not raw.strip():
        raise SourceReadError(f"{file.name} is empty: expected a JSON document")
    depth = json_depth(raw)
    if depth > limits.json_depth:
        raise SourceReadError(f"{file.name} nests {depth:,} levels deep, more than the limit of {limits.json_depth} "
                              "(limits.json_depth in sources.yaml)")
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


# The parent keys a nested record takes from the records around it (an empty table has the columns too).
_INHERITED = {"courses": (), "modules": ("course_id", "parent_module_id"), "lessons": ("course_id", "module_id"),
              "materials": ("lesson_id",)}


@dataclass
class _PathUse:
    """A nested table's path over the records it is looked up in: if it leads nowhere in every one of them,
    the setting points at something the export does not hold (a typo, a moved envelope)."""

    looked: int = 0
    found: int = 0
    first_miss: tuple[Any, str] | None = None  # a record it led nowhere in, and that record's JSON path


def read_cms_tables(source: SourceConfig) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Walk courses -> modules (-> sub-modules) -> lessons -> materials, each by its configured path. A path
    that leads nowhere (in the document for courses; in every record above it for the others) is that
    table's error; a path that leads to an empty list is an empty table."""
    document = load_json(source.path, source.limits)
    tables = source.tables
    file = source.path.name
    rows: dict[str, list[dict]] = {name: [] for name in tables}
    uses: dict[tuple[str, str], _PathUse] = {}  # (table, setting) -> how its path fared

    def records(table: str, setting: str, node: Any, path: str, where: str) -> list[tuple[str, dict]]:
        found = _records_at(node, path, where)
        use = uses.setdefault((table, setting), _PathUse())
        use.looked += 1
        if found is None:
            use.first_miss = use.first_miss or (node, where)
            return []
        use.found += 1
        return found

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
        for lwhere, lesson in records("lessons", "path", node, tables["lessons"].path, where):
            emit("lessons", lwhere, lesson, inherited)
            if "materials" in tables:
                for mwhere, material in records("materials", "path", lesson, tables["materials"].path, lwhere):
                    emit("materials", mwhere, material, {"lesson_id": key_of("lessons", lesson)})

    def walk_modules(node: Any, where: str, setting: str, course_id: Any, parent_id: Any) -> None:
        path = tables["modules"].path if setting == "path" else tables["modules"].children
        for mwhere, module in records("modules", setting, node, path, where):
            inherited = {"course_id": course_id}
            if parent_id is not None:
                inherited["parent_module_id"] = parent_id
            emit("modules", mwhere, module, inherited)
            module_id = key_of("modules", module)
            walk_lessons(module, mwhere, {"course_id": course_id, "module_id": module_id})
            if tables["modules"].children:
                walk_modules(module, mwhere, "children", course_id, module_id)

    top = tables["courses"].path
    courses = _records_at(document, top, "$")
    if not courses and (why := _no_courses(document, top)):
        raise SourceReadError(f"courses path {top!r} matched nothing in {file}: {why}", source=source.name,
                              table="courses")
    for cwhere, course in courses or []:
        emit("courses", cwhere, course, {})
        course_id = key_of("courses", course)
        if "modules" in tables:
            walk_modules(course, cwhere, "path", course_id, None)
        else:
            walk_lessons(course, cwhere, {"course_id": course_id})

    errors = {}
    for (table, setting), use in uses.items():
        if use.looked and not use.found:
            node, where = use.first_miss
            path = getattr(tables[table], setting)
            within = {"modules": "module" if setting == "children" else "course",
                      "lessons": "module" if "modules" in tables else "course", "materials": "lesson"}[table]
            why = path_miss(node, _split_filter(path)[0], root="the record")
            errors[table] = str(SourceReadError(
                f"{table} {setting} {path!r} matched nothing in {file}: not in any of the {use.looked} {within} "
                f"record(s); at {where}, {why}", source=source.name, table=table))
    frames = {}
    for table, table_rows in rows.items():
        if table in errors:
            continue
        frame = pd.DataFrame.from_records(table_rows) if table_rows else pd.DataFrame(
            columns=[*tables[table].columns.values(), *(INHERITED_PREFIX + k for k in _INHERITED[table]), "_sheet"])
        sheets = frame.pop("_sheet").tolist()
        frame = frame.astype(object).where(frame.notna(), None)
        frame = _origin(frame, source=source.name, file=source.path, sheet=None,
                        rows=range(1, len(frame) + 1))
        frame["_sheet"] = pd.Series(sheets, index=frame.index, dtype="str")
        frames[table] = frame
    return frames, errors


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
            return read_cms_tables(source)
        except SourceReadError as exc:  # the document cannot be read, or its courses path found nothing
            return {}, {exc.table: str(exc)} if exc.table else {table: str(exc) for table in source.tables}
    reader = read_csv_table if source.format == "csv" else read_xlsx_table
    for table in source.tables:
        try:
            frames[table] = reader(source, table)
        except SourceReadError as exc:
            errors[table] = str(exc)
    return frames, errors
