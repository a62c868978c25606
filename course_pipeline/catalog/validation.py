"""Validation: pandera per table (lazily: every failure of a row at once), then the rules that span
tables (unique keys, references, one level of module nesting), then the course-is-whole rule.

A row that fails is rejected alone, with every reason; a course any of whose modules, lessons or
materials is rejected is held back whole (a half-published course is worse than a late one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd
import pandera.pandas as pa

from .frames import isin
from .mapping import Catalog
from .rejects import REJECT_COLUMNS, make_rejects, public_rejects
from .schema import CONTENT_TYPES, COURSE_STATUSES, COURSE_TYPES, SCHEMAS, TABLE_ORDER, TABLES, TITLE_MAX

_ENUMS = {"course_type": COURSE_TYPES, "status": COURSE_STATUSES, "content_type": CONTENT_TYPES}
_FORMAT_MESSAGES = {
    "url": "must be an http(s) URL",
    "slug": "must be lowercase letters and digits joined by hyphens (intro-to-python)",
    "file_type": "must be a file extension such as pdf",
}
_HELD_BACK_REASONS_SHOWN = 3


@dataclass
class ValidationResult:
    source: str
    valid: dict[str, pd.DataFrame]  # the rows that go on, origin columns kept for lineage
    rejects: pd.DataFrame  # one row per reason (see rejects.PUBLIC_REJECT_COLUMNS)
    summary: pd.DataFrame  # per table: rows, valid, rejected, held_back
    table_errors: dict[str, str] = field(default_factory=dict)
    content_hash: str = ""
    # Every course id the catalog holds, valid or not: a course missing from here is gone from the
    # catalog (and may be deactivated); a rejected one is still there.
    catalog_course_ids: frozenset[str] = frozenset()
    notes: list[str] = field(default_factory=list)  # what was skipped (blank records, hidden rows) or read

    @property
    def rejected_rows(self) -> int:
        return int(self.summary["rejected"].sum())

    @property
    def ok(self) -> bool:
        return not self.table_errors and self.rejected_rows == 0


def _describe_check(table: str, column: str, check: str) -> tuple[str, str]:
    """pandera's check name -> (our rule, a sentence for the person fixing the row)."""
    if check == "not_nullable":
        if table == "lessons" and column == "course_id":
            return "required", "is required, directly or through a module_id that names an existing module"
        return "required", "is required"
    if check.startswith("str_length"):
        return "length", f"must be 1 to {TITLE_MAX} characters"
    if check.startswith("isin"):
        return "allowed_values", f"must be one of: {', '.join(_ENUMS.get(column, ()))}"
    if check.startswith("str_matches"):
        kind = "slug" if column == "slug" else "file_type" if column == "file_type" else "url"
        return "format", _FORMAT_MESSAGES[kind]
    if check.startswith("greater_than_or_equal_to"):
        return "range", "must be 0 or more"
    if check.startswith("greater_than"):
        return "range", "must be greater than 0"
    if check == "bcp47_language_tags":
        return "language", "every language must be a BCP 47 tag such as en or de-CH"
    return re.sub(r"\W+", "_", check).strip("_"), f"failed check {check}"


def schema_rejects(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    try:
        SCHEMAS[table].validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        unplaced = cases[cases["index"].isna()]
        if len(unplaced):  # a whole-column failure (a dtype): our own mapping is wrong, not the data
            raise RuntimeError(f"{table}: schema failure not tied to a row: {unplaced.to_dict('records')}") from None
        parts = []
        for (column, check), group in cases.groupby(["column", "check"], sort=False):
            rule, message = _describe_check(table, column, str(check))
            parts.append(make_rejects(table, frame, group["index"].to_list(), column, rule,
                                      group["failure_case"].to_list(), message))
        return pd.concat(parts, ignore_index=True)
    return pd.DataFrame(columns=REJECT_COLUMNS)


def location(sheet: object, row: object) -> str:
    """Where a row is, as a person looks for it: 'row 5', 'modules row 5', or a record's JSON path."""
    if isinstance(sheet, str) and sheet.startswith("$"):
        return sheet
    return f"{sheet} row {row}" if isinstance(sheet, str) and sheet else f"row {row}"


def _locations(frame: pd.DataFrame, labels: pd.Index) -> list[str]:
    return [location(s, r) for s, r in zip(frame.loc[labels, "_sheet"], frame.loc[labels, "_row"], strict=True)]


def duplicate_rejects(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    key = TABLES[table].key
    present = frame[key].notna()
    later = frame[key].duplicated(keep="first") & present
    if not later.any():
        return pd.DataFrame(columns=REJECT_COLUMNS)
    firsts = frame[present & ~frame[key].duplicated(keep="first")]
    first_where = dict(zip(firsts[key], _locations(frame, firsts.index), strict=True))
    dups = frame[later]
    messages = [f"duplicate {key} {k!r}; the first is {first_where[k]}" for k in dups[key]]
    return make_rejects(table, frame, dups.index, key, "unique", dups[key].to_list(), messages)


def reference_rejects(table: str, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    frame = tables[table]
    parts = []
    for ref in TABLES[table].references:
        target = tables[ref.table]
        values = frame[ref.column]
        bad = values.notna().to_numpy() & ~isin(values, target[TABLES[ref.table].key].dropna())
        if bad.any():
            target_key = TABLES[ref.table].key
            messages = [f"{ref.column} {v!r} matches no {ref.table} {target_key}" for v in values[bad]]
            parts.append(make_rejects(table, frame, frame.index[bad], ref.column, "reference",
                                      values[bad].to_list(), messages))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=REJECT_COLUMNS)


def _first_by_key(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    return frame[frame[key].notna()].drop_duplicates(key, keep="first").set_index(key)


def nesting_rejects(modules: pd.DataFrame) -> pd.DataFrame:
    """A sub-module sits in a top-level module of the same course; deeper nesting is refused."""
    parents = _first_by_key(modules, "module_id")
    has_parent = modules["parent_module_id"].notna().to_numpy() & isin(modules["parent_module_id"],
                                                                         parents.index.to_series())
    child = modules[has_parent]
    if child.empty:
        return pd.DataFrame(columns=REJECT_COLUMNS)
    parent = parents.loc[child["parent_module_id"]]
    checks = [
        (child["parent_module_id"].to_numpy() == child["module_id"].to_numpy(), "nesting",
         "a module cannot be its own parent"),
        (parent["parent_module_id"].notna().to_numpy(), "nesting",
         "modules nest one level only: the parent is itself a sub-module"),
        (parent["course_id"].to_numpy() != child["course_id"].to_numpy(), "nesting",
         "the parent module belongs to another course"),
    ]
    parts = [make_rejects("modules", modules, child.index[mask], "parent_module_id", rule,
                          child["parent_module_id"][mask].to_list(), message)
             for mask, rule, message in checks if mask.any()]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=REJECT_COLUMNS)


def derive_lesson_courses(lessons: pd.DataFrame, modules: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A lesson may name only its module; its course is the module's. Where it names both and they
    disagree, the lesson is rejected rather than guessed at."""
    module_course = _first_by_key(modules, "module_id")["course_id"]
    from_module = lessons["module_id"].map(module_course)
    lessons = lessons.copy()
    disagree = lessons["course_id"].notna() & from_module.notna() & (lessons["course_id"] != from_module)
    lessons["course_id"] = lessons["course_id"].fillna(from_module).astype("str")
    if not disagree.any():
        return lessons, pd.DataFrame(columns=REJECT_COLUMNS)
    messages = [f"course_id {c!r} disagrees with module {m!r}, which belongs to course {mc!r}"
                for c, m, mc in zip(lessons["course_id"][disagree], lessons["module_id"][disagree],
                                    from_module[disagree], strict=True)]
    return lessons, make_rejects("lessons", lessons, lessons.index[disagree], "course_id", "consistency",
                                 lessons["course_id"][disagree].to_list(), messages)


def _course_of_rows(table: str, tables: dict[str, pd.DataFrame]) -> pd.Series:
    """The course each row of a table belongs to (materials through their lesson)."""
    if table == "materials":
        lesson_course = _first_by_key(tables["lessons"], "lesson_id")["course_id"]
        return tables["materials"]["lesson_id"].map(lesson_course)
    return tables[table]["course_id"]


def hold_back_incomplete_courses(tables: dict[str, pd.DataFrame], rejects: pd.DataFrame,
                                 ) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    """Reject each course that lost a module, lesson or material; return the extra rejects and, per
    table, a mask of the rows that go on."""
    courses = tables["courses"]
    rejected = {t: tables[t].index.isin(rejects.loc[rejects["table"] == t, "_index"]) for t in TABLE_ORDER}
    child_reasons: dict[str, list[str]] = {}
    for table in TABLE_ORDER[1:]:
        table_rejects = rejects[rejects["table"] == table]
        if table_rejects.empty:
            continue
        course_of = _course_of_rows(table, tables)
        for index, sheet, row, column, message in zip(
                table_rejects["_index"], table_rejects["sheet"], table_rejects["row"], table_rejects["column"],
                table_rejects["message"], strict=True):
            course = course_of.get(index)
            if course is not None and course == course:
                where = location(sheet, row) if sheet else f"{table} row {row}"
                child_reasons.setdefault(course, []).append(f"{where}: {column} {message}")
    held = courses["course_id"].isin(list(child_reasons)) & ~rejected["courses"]
    # Of duplicated course ids only the first row was a candidate; it is the one held back.
    extra = pd.DataFrame(columns=REJECT_COLUMNS)
    if held.any():
        messages = []
        for course in courses.loc[held, "course_id"]:
            reasons = child_reasons[course]
            more = len(reasons) - _HELD_BACK_REASONS_SHOWN
            messages.append("held back whole: " + "; ".join(reasons[:_HELD_BACK_REASONS_SHOWN])
                            + (f"; and {more} more" if more > 0 else ""))
        extra = make_rejects("courses", courses, courses.index[held], "course_id", "incomplete_course",
                             courses.loc[held, "course_id"].to_list(), messages)
    keep = {"courses": ~(rejected["courses"] | held.to_numpy())}
    good_courses = courses.loc[keep["courses"], "course_id"]
    for table in TABLE_ORDER[1:]:
        keep[table] = ~rejected[table] & isin(_course_of_rows(table, tables), good_courses)
    return extra, keep


def validate_catalog(catalog: Catalog) -> ValidationResult:
    tables = dict(catalog.tables)
    tables["lessons"], disagreements = derive_lesson_courses(tables["lessons"], tables["modules"])
    parts = [catalog.cell_rejects, disagreements]
    for table in TABLE_ORDER:
        frame = tables[table]
        if frame.empty:
            continue
        parts += [schema_rejects(table, frame), duplicate_rejects(table, frame), reference_rejects(table, tables)]
    parts.append(nesting_rejects(tables["modules"]))
    rejects = pd.concat([p for p in parts if not p.empty], ignore_index=True) if any(
        not p.empty for p in parts) else pd.DataFrame(columns=REJECT_COLUMNS)
    held_back, keep = hold_back_incomplete_courses(tables, rejects)
    if not held_back.empty:
        rejects = pd.concat([rejects, held_back], ignore_index=True)
    valid, summary = {}, []
    for table in TABLE_ORDER:
        frame = tables[table]
        valid[table] = frame[keep[table]].reset_index(drop=True)
        rejected_rows = rejects.loc[rejects["table"] == table, "_index"].nunique()
        summary.append({"table": table, "rows": len(frame), "valid": len(valid[table]),
                        "rejected": int(rejected_rows),
                        "held_back": len(frame) - len(valid[table]) - int(rejected_rows),
                        # not rows of the table, and not in `rows`: records skipped as they were read
                        "blank_skipped": catalog.blank_rows.get(table, 0),
                        "hidden_skipped": catalog.hidden_rows.get(table, 0)})
    return ValidationResult(source=catalog.source, valid=valid, rejects=public_rejects(rejects),
                            summary=pd.DataFrame(summary), table_errors=dict(catalog.table_errors),
                            content_hash=catalog.content_hash,
                            catalog_course_ids=frozenset(tables["courses"]["course_id"].dropna()),
                            notes=list(catalog.notes))
