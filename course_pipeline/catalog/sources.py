"""sources.yaml: which catalogs exist, where they live, and how their columns map to ours.

Every key is checked: an unknown key, a missing file or a bad value is a ConfigError that names
the source, the key and what was expected, so a typo never silently drops a column.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .schema import TABLES

FORMATS = ("csv", "xlsx", "cms_json", "imscc", "olx")
# Learning-platform exports: read into our four tables by their own readers (no mapping needed); the
# course fields they carry beyond our columns, kept as custom fields.
EXPORT_FORMATS = {"imscc": ("cartridge_version", "course_code", "start_at"), "olx": ("course_key", "start", "short_description")}
DURATION_UNITS = ("minutes", "hours")

_SOURCE_KEYS = {"name", "path", "format", "encoding", "delimiter", "tables", "conventions", "defaults", "limits",
                "hidden"}
HIDDEN_CHOICES = ("skip", "read")  # xlsx: hidden sheets and rows
# Folders besides the sources file's own that a source path may point into (os.pathsep-separated).
ALLOWED_ROOTS_ENV = "COURSE_PIPELINE_SOURCE_ROOTS"
MAX_SOURCES_FILE_BYTES = 1 << 20  # a sources.yaml is a page of settings, never megabytes
MAX_YAML_ALIASES = 50  # anchors and aliases are handy for a shared mapping; a bomb needs thousands
MAX_YAML_NODES = 100_000  # nodes once every alias is expanded
_TABLE_KEYS = {"columns", "custom_fields", "sheet", "path", "header_row", "children"}
_CONVENTION_KEYS = {"duration_unit", "list_separator", "true_words", "false_words", "date_format",
                    "date_fields", "aliases"}
_DEFAULT_TRUE = ("true", "yes", "y", "1", "x", "ja", "oui", "si", "wahr")
_DEFAULT_FALSE = ("false", "no", "n", "0", "nein", "non", "falsch")


@dataclass(frozen=True)
class Conventions:
    """How a source writes its values."""

    duration_unit: str = "minutes"  # what a bare number such as 90 or 1.5 means
    list_separator: str = ","
    true_words: tuple[str, ...] = _DEFAULT_TRUE
    false_words: tuple[str, ...] = _DEFAULT_FALSE
    date_format: str | None = None  # strptime format for date_fields
    date_fields: tuple[str, ...] = ()  # custom fields holding dates, written as ISO dates
    # Per column: the source's word -> ours, e.g. {"content_type": {"reading": "text"}}.
    aliases: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class InputLimits:
    """What a source may hold before it is refused as hostile or broken (sources.yaml `limits:`)."""

    file_mb: float = 1024.0  # size of each file
    columns: int = 1000  # header width
    cell_chars: int = 1 << 20  # characters in one cell (1,048,576)
    json_depth: int = 64  # nesting of a JSON document

    @property
    def file_bytes(self) -> int:
        return int(self.file_mb * (1 << 20))


_LIMIT_KEYS = {f: type(getattr(InputLimits(), f)) for f in ("file_mb", "columns", "cell_chars", "json_depth")}


@dataclass(frozen=True)
class TableConfig:
    name: str
    columns: dict[str, str]  # our column -> the source's column (or dotted JSON path)
    custom_fields: dict[str, str] = field(default_factory=dict)  # field name -> source column
    sheet: str | None = None  # xlsx: the sheet; defaults to the table name
    path: str | None = None  # csv: the file of this table; cms_json: where its records are
    header_row: int = 1  # csv/xlsx: the row that holds the header (1-based)
    children: str | None = None  # cms_json modules: path of sub-modules inside a module


@dataclass(frozen=True)
class SourceConfig:
    name: str
    path: Path
    format: str
    tables: dict[str, TableConfig]
    conventions: Conventions = Conventions()
    defaults: dict[str, dict[str, Any]] = field(default_factory=dict)  # table -> column -> value
    encoding: str | None = None  # csv: None means detect
    delimiter: str | None = None  # csv: None means sniff
    limits: InputLimits = InputLimits()
    hidden: str = "skip"  # xlsx: hidden sheets and rows are skipped (and reported), or "read"

    def table_file(self, table: str) -> Path:
        """The file a table is read from: its own path for csv tables, else the source's file."""
        tcfg = self.tables[table]
        if self.format == "csv" and tcfg.path:
            return confined(self.path.parent, tcfg.path, source=self.name, setting=f"tables.{table}.path")
        return self.path

    def files(self) -> list[Path]:
        if self.format in EXPORT_FORMATS and self.path.is_dir():  # a folder of cartridges, or unpacked OLX
            return sorted(p for p in self.path.rglob("*") if p.is_file())
        return sorted({self.table_file(t) for t in self.tables})

    def content_hash(self) -> str:
        """sha256 over the source's files and its own settings: the data version of the catalog."""
        # Settings count too (a new mapping changes the catalog); absolute paths do not, so the
        # hash is the same on every machine.
        settings = (self.format, self.encoding, self.delimiter, self.tables, self.conventions, self.defaults)
        if self.hidden != "skip":  # what is read changes with it; the default keeps earlier hashes
            settings += (self.hidden,)
        digest = hashlib.sha256(repr(settings).encode())
        for file in self.files():
            digest.update((file.relative_to(self.path).as_posix() if self.path.is_dir() else file.name).encode())
            with file.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
        return digest.hexdigest()


def allowed_roots(base_dir: Path) -> list[Path]:
    """The sources file's folder, and any folder named in COURSE_PIPELINE_SOURCE_ROOTS."""
    extra = [Path(p).expanduser().resolve() for p in os.environ.get(ALLOWED_ROOTS_ENV, "").split(os.pathsep) if p]
    return [base_dir.resolve(), *extra]


def confined(base_dir: Path, relative: str, *, source: str, setting: str = "path") -> Path:
    """`relative` resolved against base_dir (symlinks followed), refused unless it lies inside an allowed
    root: a sources file can name only catalogs beside it, never ../../secret.env or /etc/passwd."""
    path = (base_dir / str(relative)).resolve()
    roots = allowed_roots(base_dir)
    if not any(path.is_relative_to(root) for root in roots):
        raise ConfigError(f"{setting} {str(relative)!r} lies outside the folder of the sources file ({roots[0]}); "
                          f"a catalog must be inside it, or inside a folder listed in {ALLOWED_ROOTS_ENV}",
                          source=source)
    return path


def _unknown_keys(mapping: dict, allowed: set[str], *, source: str, where: str) -> None:
    unknown = sorted(set(mapping) - allowed)
    if unknown:
        raise ConfigError(f"unknown key {', '.join(repr(k) for k in unknown)} in {where}; "
                          f"expected one of: {', '.join(sorted(allowed))}", source=source)


def _expect_mapping(value: Any, *, source: str, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a mapping of key: value, got {type(value).__name__}", source=source)
    return value


def _parse_table(name: str, raw: Any, *, source: str, fmt: str) -> TableConfig:
    if name not in TABLES:
        raise ConfigError(f"unknown table {name!r} under tables; expected one of: {', '.join(TABLES)}",
                          source=source)
    raw = _expect_mapping(raw, source=source, where=f"tables.{name}")
    _unknown_keys(raw, _TABLE_KEYS, source=source, where=f"tables.{name}")
    columns = {str(k): str(v) for k, v in _expect_mapping(raw.get("columns"), source=source,
                                                          where=f"tables.{name}.columns").items()}
    known = TABLES[name].columns
    for ours in columns:
        if ours not in known or ours == "custom_fields":
            raise ConfigError(f"tables.{name}.columns maps unknown column {ours!r}; our columns are: "
                              f"{', '.join(c for c in known if c != 'custom_fields')} "
                              "(put anything else under custom_fields)", source=source)
    custom = {str(k): str(v) for k, v in _expect_mapping(raw.get("custom_fields"), source=source,
                                                         where=f"tables.{name}.custom_fields").items()}
    if custom and name != "courses":
        raise ConfigError(f"tables.{name}.custom_fields: only courses have custom fields", source=source)
    header_row = raw.get("header_row", 1)
    if not isinstance(header_row, int) or header_row < 1:
        raise ConfigError(f"tables.{name}.header_row must be a whole number >= 1, got {header_row!r}",
                          source=source)
    if fmt == "cms_json" and not raw.get("path"):
        raise ConfigError(f"tables.{name}.path is required for a cms_json source: where the records "
                          "are in the document (for example data.courses)", source=source)
    if raw.get("children") and (fmt != "cms_json" or name != "modules"):
        raise ConfigError(f"tables.{name}.children is only for the modules of a cms_json source",
                          source=source)
    return TableConfig(name=name, columns=columns, custom_fields=custom, sheet=raw.get("sheet"),
                       path=raw.get("path"), header_row=header_row, children=raw.get("children"))


def _parse_conventions(raw: Any, *, source: str) -> Conventions:
    raw = _expect_mapping(raw, source=source, where="conventions")
    _unknown_keys(raw, _CONVENTION_KEYS, source=source, where="conventions")
    unit = raw.get("duration_unit", "minutes")
    if unit not in DURATION_UNITS:
        raise ConfigError(f"conventions.duration_unit must be one of {', '.join(DURATION_UNITS)}, got {unit!r}",
                          source=source)
    words = {}
    for key, default in (("true_words", _DEFAULT_TRUE), ("false_words", _DEFAULT_FALSE)):
        value = raw.get(key, default)
        if not isinstance(value, list | tuple) or not value:
            raise ConfigError(f"conventions.{key} must be a non-empty list of words", source=source)
        words[key] = tuple(str(w).strip().lower() for w in value)
    aliases = _expect_mapping(raw.get("aliases"), source=source, where="conventions.aliases")
    return Conventions(
        duration_unit=unit,
        list_separator=str(raw.get("list_separator", ",")),
        true_words=words["true_words"],
        false_words=words["false_words"],
        date_format=raw.get("date_format"),
        date_fields=tuple(raw.get("date_fields") or ()),
        aliases={str(col): {str(k).strip().lower(): str(v) for k, v in (m or {}).items()}
                 for col, m in aliases.items()},
    )


def _parse_limits(raw: Any, *, source: str) -> InputLimits:
    raw = _expect_mapping(raw, source=source, where="limits")
    _unknown_keys(raw, set(_LIMIT_KEYS), source=source, where="limits")
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigError(f"limits.{key} must be a number greater than 0, got {value!r}", source=source)
    return InputLimits(**{k: _LIMIT_KEYS[k](v) for k, v in raw.items()})


def _parse_defaults(raw: Any, *, source: str) -> dict[str, dict[str, Any]]:
    """Defaults are written per table ({courses: {status: published}}), or flat for courses."""
    raw = _expect_mapping(raw, source=source, where="defaults")
    if raw and not set(raw) <= set(TABLES):
        raw = {"courses": raw}
    out: dict[str, dict[str, Any]] = {}
    for table, values in raw.items():
        values = _expect_mapping(values, source=source, where=f"defaults.{table}")
        for column in values:
            if column not in TABLES[table].columns:
                raise ConfigError(f"defaults.{table} names unknown column {column!r}", source=source)
        out[table] = dict(values)
    return out


def parse_source(raw: Any, *, base_dir: Path, index: int) -> SourceConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"sources[{index}] must be a mapping with name, path, format and tables")
    name = raw.get("name")
    if not name or not isinstance(name, str):
        raise ConfigError(f"sources[{index}] has no name; every source needs one (it names the Dagster partition)")
    _unknown_keys(raw, _SOURCE_KEYS, source=name, where="the source")
    fmt = raw.get("format")
    if fmt not in FORMATS:
        file = f" for {raw['path']}" if raw.get("path") else ""
        raise ConfigError(f"format {fmt!r}{file} is not one we read; expected one of {', '.join(FORMATS)}",
                          source=name)
    if not raw.get("path"):
        raise ConfigError("path is missing: the catalog file to read", source=name)
    path = confined(base_dir, raw["path"], source=name)
    hidden = raw.get("hidden", "skip")
    if hidden not in HIDDEN_CHOICES:
        raise ConfigError(f"hidden must be one of {', '.join(HIDDEN_CHOICES)} (hidden sheets and rows of a "
                          f"workbook), got {hidden!r}", source=name)
    tables_raw = _expect_mapping(raw.get("tables"), source=name, where="tables")
    if fmt in EXPORT_FORMATS:  # all four tables, in our columns; a table given here overrides its default
        tables_raw = {t: {"custom_fields": {f: f for f in EXPORT_FORMATS[fmt]}} if t == "courses" else {}
                      for t in TABLES} | tables_raw
    if "courses" not in tables_raw:
        raise ConfigError("tables.courses is missing: every catalog has a courses table", source=name)
    tables = {t: _parse_table(t, tables_raw[t], source=name, fmt=fmt) for t in tables_raw}
    source = SourceConfig(
        name=name, path=path, format=fmt, tables=tables,
        conventions=_parse_conventions(raw.get("conventions"), source=name),
        defaults=_parse_defaults(raw.get("defaults"), source=name),
        encoding=raw.get("encoding"), delimiter=raw.get("delimiter"),
        limits=_parse_limits(raw.get("limits"), source=name), hidden=hidden,
    )
    _check_aliases(source)
    from .mapping import check_defaults  # mapping parses values, which needs this module

    check_defaults(source)
    for file in source.files():
        if file.is_dir():
            raise ConfigError(f"path {file} is a folder, not a catalog file: expected the {fmt} file itself",
                              source=name)
        if not file.is_file():
            raise ConfigError(f"file not found: {file} (expected the {fmt} catalog there)", source=name)
    return source


class BoundedSafeLoader(yaml.SafeLoader):
    """yaml's SafeLoader (no Python objects) that also refuses alias expansion beyond a small bound: a
    "billion laughs" document of nested aliases is a few hundred bytes and expands to gigabytes."""

    def __init__(self, stream):
        super().__init__(stream)
        self.aliases = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_YAML_ALIASES:
                raise ConfigError(f"more than {MAX_YAML_ALIASES} YAML aliases (*name); write the mappings out")
        return super().compose_node(parent, index)

    def compose_document(self):
        node = super().compose_document()
        if expanded_size(node) > MAX_YAML_NODES:
            raise ConfigError(f"its aliases expand to more than {MAX_YAML_NODES:,} values; write the mappings out")
        return node


def expanded_size(node: yaml.Node) -> int:
    """How many nodes a YAML tree holds with every alias expanded (each shared node counted once per use)."""
    memo: dict[int, int] = {}

    def size(n: yaml.Node) -> int:
        if id(n) not in memo:
            memo[id(n)] = 0  # a cycle counts once (SafeLoader builds recursive structures lazily)
            children = n.value if isinstance(n, yaml.SequenceNode) else \
                [c for pair in n.value for c in pair] if isinstance(n, yaml.MappingNode) else []
            memo[id(n)] = 1 + sum(size(c) for c in children)
        return memo[id(n)]

    return size(node) if node is not None else 0


def _check_aliases(source: SourceConfig) -> None:
    """conventions.aliases applies to every column it names; one no table of the source has, or one
    that holds no words (custom_fields), is refused rather than silently ignored."""
    columns = {c: kind for t in source.tables for c, kind in TABLES[t].columns.items()}
    for column in source.conventions.aliases:
        if column not in columns:
            raise ConfigError(f"conventions.aliases names column {column!r}, which none of this source's tables "
                              f"({', '.join(source.tables)}) has", source=source.name)
        if columns[column] == "dict":
            raise ConfigError(f"conventions.aliases cannot apply to {column!r}: it holds fields, not words",
                              source=source.name)


def _read_document(path: Path) -> list:
    if path.is_dir():
        raise ConfigError(f"{path} is a folder; give the sources file (sources.yaml) itself")
    if not path.is_file():
        raise ConfigError(f"sources file not found: {path}")
    if path.stat().st_size > MAX_SOURCES_FILE_BYTES:
        raise ConfigError(f"{path} is {path.stat().st_size:,} bytes; a sources file has at most "
                          f"{MAX_SOURCES_FILE_BYTES:,}")
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=BoundedSafeLoader)  # noqa: S506 (safe loader)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text (byte {exc.start})") from None
    except RecursionError:
        raise ConfigError(f"{path} is nested too deeply to be a sources file") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("sources"), list):
        raise ConfigError(f"{path} must hold a list under the key 'sources'")
    return doc["sources"]


@dataclass(frozen=True)
class BrokenSource:
    """A source named in sources.yaml that cannot be configured (a missing file, an unknown format, a folder
    where a file belongs): every door reports it in one line and goes on with the others."""

    name: str  # its name, or sources[i] when the entry has none
    error: str  # names the source, the setting or file, and what was expected


@dataclass(frozen=True)
class Sources:
    """Every entry of a sources file, in its order: a SourceConfig, or a BrokenSource saying why not."""

    path: Path
    entries: tuple[SourceConfig | BrokenSource, ...]

    @property
    def configured(self) -> list[SourceConfig]:
        return [e for e in self.entries if isinstance(e, SourceConfig)]

    @property
    def broken(self) -> list[BrokenSource]:
        return [e for e in self.entries if isinstance(e, BrokenSource)]

    def select(self, name: str | None) -> Sources:
        """Only the entry named (configured or broken), or all of them; a name the file lacks is an error."""
        if name is None:
            return self
        chosen = tuple(e for e in self.entries if e.name == name)
        if not chosen:
            raise ConfigError(f"no source named {name!r}; known sources: {', '.join(e.name for e in self.entries)}")
        return Sources(self.path, chosen)

    def get(self, name: str) -> SourceConfig:
        """The source named; ConfigError (its own message) if it is broken or the file names no such source."""
        (entry,) = self.select(name).entries
        if isinstance(entry, BrokenSource):
            raise ConfigError(entry.error)
        return entry


def read_sources(path: str | Path) -> Sources:
    """Read and check sources.yaml, each source on its own: one that cannot be configured is a BrokenSource
    and the others are unaffected. A file that cannot be read as a list of sources raises ConfigError.
    Paths inside it are relative to the file itself."""
    path = Path(path)
    entries: list[SourceConfig | BrokenSource] = []
    for index, raw in enumerate(_read_document(path)):
        try:
            entries.append(parse_source(raw, base_dir=path.parent, index=index))
        except ConfigError as exc:
            name = raw.get("name") if isinstance(raw, dict) and isinstance(raw.get("name"), str) else None
            entries.append(BrokenSource(name=name or f"sources[{index}]", error=str(exc)))
    # A name given twice: which of the two is meant cannot be told, so that name is one broken source.
    names = [e.name for e in entries]
    kept: list[SourceConfig | BrokenSource] = []
    for entry in entries:
        if names.count(entry.name) == 1:
            kept.append(entry)
        elif entry.name not in {e.name for e in kept}:
            at = ", ".join(f"sources[{i}]" for i, n in enumerate(names) if n == entry.name)
            kept.append(BrokenSource(entry.name, str(ConfigError(
                f"the name is given to more than one source ({at}); source names must be unique",
                source=entry.name))))
    return Sources(path, tuple(kept))


def load_sources(path: str | Path) -> list[SourceConfig]:
    """Every source of sources.yaml, or ConfigError naming the first that cannot be configured."""
    sources = read_sources(path)
    if sources.broken:
        raise ConfigError(sources.broken[0].error)
    return sources.configured
