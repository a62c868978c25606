"""What every vendor shares: the shapes of payloads and rejects, the content hash, and the walk over a
valid catalog course by course (each course with its modules, lessons and materials in order).

A vendor's payload module (vendors/<vendor>/payload.py) defines a PayloadBuilder subclass with `build`, which turns one
course into the body this vendor accepts or raises VendorRejected with the reason.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa

ORIGIN_KEYS = ("_source", "_file", "_sheet", "_row")


def canonical_json(body: Any) -> bytes:
    """One spelling per value: sorted keys, no spaces, UTF-8. Same course, same bytes, any machine.
    orjson writes exactly what json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    does for our values (strings, ints, bools, lists, dicts), several times faster."""
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def content_hash(body_json: bytes) -> str:
    return hashlib.sha256(body_json).hexdigest()


@dataclass(frozen=True)
class Origin:
    """The catalog row a course came from."""

    source: str
    file: str
    sheet: str | None
    row: int

    @classmethod
    def of(cls, row: dict) -> Origin:
        sheet = row.get("_sheet")
        return cls(source=str(row["_source"]), file=str(row["_file"]),
                   sheet=sheet if isinstance(sheet, str) else None, row=int(row["_row"]))


@dataclass(frozen=True)
class PayloadItem:
    """One course as one vendor will receive it. The body is kept as its canonical JSON (a quarter of
    the memory of the dict, and exactly the bytes the hash covers)."""

    vendor: str
    course_id: str
    body_json: bytes
    content_hash: str
    origin: Origin
    # Catalog rows of the parts sent with the course, per table: {"lessons": (12, 13), ...}.
    part_rows: dict[str, tuple[int, ...]] = field(default_factory=dict)

    @property
    def body(self) -> dict:
        return orjson.loads(self.body_json)


@dataclass(frozen=True)
class VendorReject:
    """A course valid in our model that this vendor cannot take."""

    vendor: str
    course_id: str
    rule: str
    message: str
    origin: Origin


class VendorRejected(Exception):
    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.rule = rule
        self.message = message


@dataclass
class PayloadSet:
    vendor: str
    items: list[PayloadItem] = field(default_factory=list)
    rejects: list[VendorReject] = field(default_factory=list)

    def rejects_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"vendor": r.vendor, "course_id": r.course_id, "rule": r.rule, "message": r.message,
                              "file": r.origin.file, "sheet": r.origin.sheet, "row": r.origin.row}
                             for r in self.rejects],
                            columns=["vendor", "course_id", "rule", "message", "file", "sheet", "row"])


@dataclass
class CourseBundle:
    """A course and its parts as plain dicts, in the order a learner meets them."""

    course: dict
    modules: list[dict]  # top-level modules first by position; each sub-module right after its parent
    lessons: list[dict]  # by module order, then position
    materials: dict[str, list[dict]]  # lesson_id -> its materials

    @property
    def course_id(self) -> str:
        return self.course["course_id"]

    def lessons_of(self, module_id: str | None) -> list[dict]:
        return [lesson for lesson in self.lessons if lesson.get("module_id") == module_id]

    def part_rows(self, *tables: str) -> dict[str, tuple[int, ...]]:
        parts = {"modules": self.modules, "lessons": self.lessons,
                 "materials": [m for ms in self.materials.values() for m in ms]}
        return {t: tuple(int(r["_row"]) for r in parts[t]) for t in tables if parts[t]}


class PayloadBuilder:
    """A vendor's payload rules. Subclasses set `name` and implement `build`."""

    name: ClassVar[str]
    # Which parts of a course this vendor receives (for the lineage of an item).
    sends_parts: ClassVar[tuple[str, ...]] = ()

    def prepare(self, courses: pd.DataFrame) -> None:
        """Catalog-wide work before the per-course builds (e.g. unique slugs)."""

    def build(self, bundle: CourseBundle) -> dict:
        raise NotImplementedError

    def request_body(self, bodies: list[dict]) -> dict:
        """The body of one request carrying these items, exactly as it is sent."""
        raise NotImplementedError

    def item(self, bundle: CourseBundle) -> PayloadItem | VendorReject:
        origin = Origin.of(bundle.course)
        try:
            body = self.build(bundle)
        except VendorRejected as exc:
            return VendorReject(self.name, bundle.course_id, exc.rule, exc.message, origin)
        body_json = canonical_json(body)
        return PayloadItem(self.name, bundle.course_id, body_json, content_hash(body_json), origin,
                           bundle.part_rows(*self.sends_parts))


# ------------------------------------------------------------------------------- the course walk

def _clean(value: Any) -> Any:
    """pandas' missing values as None, numpy scalars as Python ones: what json and vendors expect."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts of plain Python values (None for missing). Scalar tables go through Arrow, which
    does this in C++ (ten times the speed of iterating Arrow-backed columns from Python); the courses
    table holds lists and dicts, which Arrow would reshape, so it goes cell by cell."""
    if any(frame[c].dtype == object for c in frame.columns):
        columns = list(frame.columns)
        return [{c: _clean(v) for c, v in zip(columns, row, strict=True)}
                for row in frame.itertuples(index=False, name=None)]
    return pa.Table.from_pandas(frame, preserve_index=False).to_pylist()


def _order_by_course(frame: pd.DataFrame, course_ord: np.ndarray, *keys: np.ndarray) -> tuple[pd.DataFrame,
                                                                                            np.ndarray]:
    """Rows sorted by course (catalog order), then keys; with the sorted course ordinals."""
    order = np.lexsort((*reversed(keys), course_ord)) if len(frame) else np.arange(0)
    return frame.iloc[order].reset_index(drop=True), course_ord[order]


def _position(frame: pd.DataFrame) -> np.ndarray:
    """Position where given, else after every positioned sibling, in file order."""
    return frame["position"].astype("Float64").fillna(np.inf).to_numpy(dtype=float)


def iter_bundles(valid: dict[str, pd.DataFrame], chunk_courses: int = 2000) -> Iterator[CourseBundle]:
    """Every valid course with its parts. Parts are turned into dicts a chunk of courses at a time, so
    memory stays flat however large the catalog."""
    courses = valid["courses"]
    course_index = pd.Index(courses["course_id"])
    modules, lessons, materials = valid["modules"], valid["lessons"], valid["materials"]

    module_ord = course_index.get_indexer(modules["course_id"])
    # A sub-module sorts right after its parent: key by (parent's position, parent, own position).
    parent_pos = pd.Series(_position(modules), index=modules["module_id"])
    top_id = modules["parent_module_id"].fillna(modules["module_id"])
    modules, module_ord = _order_by_course(
        modules, module_ord, top_id.map(parent_pos).to_numpy(dtype=float), pd.factorize(top_id)[0],
        modules["parent_module_id"].notna().to_numpy(), _position(modules), modules["_row"].to_numpy())
    module_rank = pd.Series(np.arange(len(modules)), index=modules["module_id"])

    lesson_ord = course_index.get_indexer(lessons["course_id"])
    rank = lessons["module_id"].map(module_rank).astype("Float64").fillna(np.inf).to_numpy(dtype=float)
    lessons, lesson_ord = _order_by_course(lessons, lesson_ord, rank, _position(lessons), lessons["_row"].to_numpy())

    lesson_course = pd.Series(lesson_ord, index=lessons["lesson_id"])
    material_ord = materials["lesson_id"].map(lesson_course).to_numpy(dtype=np.int64) if len(materials) else \
        np.zeros(0, dtype=np.int64)
    materials, material_ord = _order_by_course(materials, material_ord, materials["_row"].to_numpy())

    for start in range(0, len(courses), chunk_courses):
        stop = min(start + chunk_courses, len(courses))
        chunk = {}
        for name, frame, ords in (("modules", modules, module_ord), ("lessons", lessons, lesson_ord),
                                  ("materials", materials, material_ord)):
            lo, hi = np.searchsorted(ords, [start, stop])
            part = frame.iloc[lo:hi].drop(columns=["_source", "_file", "_sheet"])  # a part keeps its row only
            chunk[name] = (_records(part), ords[lo:hi] - start)
        grouped = {name: _split(records, ords, stop - start) for name, (records, ords) in chunk.items()}
        for offset, course in enumerate(_records(courses.iloc[start:stop])):
            by_lesson: dict[str, list[dict]] = {}
            for material in grouped["materials"][offset]:
                by_lesson.setdefault(material["lesson_id"], []).append(material)
            yield CourseBundle(course=course, modules=grouped["modules"][offset],
                               lessons=grouped["lessons"][offset], materials=by_lesson)


def _split(records: list[dict], ords: np.ndarray, count: int) -> list[list[dict]]:
    bounds = np.searchsorted(ords, np.arange(count + 1))
    return [records[bounds[i]:bounds[i + 1]] for i in range(count)]


def build_payloads(valid: dict[str, pd.DataFrame], vendors: list[PayloadBuilder]) -> dict[str, PayloadSet]:
    """Every vendor's payload items and rejects, in one walk over the catalog."""
    for vendor in vendors:
        vendor.prepare(valid["courses"])
    sets = {vendor.name: PayloadSet(vendor.name) for vendor in vendors}
    for bundle in iter_bundles(valid):
        for vendor in vendors:
            outcome = vendor.item(bundle)
            target = sets[vendor.name]
            (target.items if isinstance(outcome, PayloadItem) else target.rejects).append(outcome)
    return sets
