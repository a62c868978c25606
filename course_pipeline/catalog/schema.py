"""The canonical catalog: four tables, their columns, and the pandera models that validate them.

Column names here are ours; a source's own names are mapped in sources.yaml (see mapping.py).
Every table also carries the origin columns (ORIGIN_COLUMNS) so a reject points back to the cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

COURSE_TYPES = ("course", "learning_path", "webinar", "video", "article", "scorm", "xapi")
COURSE_STATUSES = ("draft", "published", "archived")
# Broader than any one vendor: each payload builder maps these to what its vendor takes.
CONTENT_TYPES = ("video", "audio", "text", "document", "quiz", "assignment", "live", "scorm")

TITLE_MAX = 255
HTTP_URL = r"(?i)^https?://[^\s/?#]+\.[^\s/?#]+(?:[/?#]\S*)?$"
SLUG = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
# Shape of a normalised BCP 47 tag (language, optional script, region or variants).
BCP47 = r"^[a-z]{2,3}(?:-[A-Z][a-z]{3})?(?:-(?:[A-Z]{2}|[0-9]{3}))?(?:-[A-Za-z0-9]{5,8})*$"

# Where a row came from: source name, file, sheet (or JSON path of the record) and 1-based row.
ORIGIN_COLUMNS = ("_source", "_file", "_sheet", "_row")


@dataclass(frozen=True)
class Reference:
    column: str
    table: str  # the table whose key the column refers to


@dataclass(frozen=True)
class TableSpec:
    """What a canonical table is: its key, the kind of each column, and its references."""

    name: str
    key: str
    columns: dict[str, str]  # column -> kind (see values.PARSERS)
    required: tuple[str, ...]
    references: tuple[Reference, ...] = ()


TABLES: dict[str, TableSpec] = {
    "courses": TableSpec(
        name="courses",
        key="course_id",
        columns={
            "course_id": "id", "title": "text", "description": "html", "course_type": "enum",
            "status": "enum", "slug": "text", "image_url": "url", "course_url": "url",
            "duration_minutes": "duration", "languages": "languages", "tags": "list", "authors": "list",
            "instructor_name": "text", "instructor_bio": "text", "is_free": "bool", "source": "text",
            "custom_fields": "dict",
        },
        required=("course_id", "title"),
    ),
    "modules": TableSpec(
        name="modules",
        key="module_id",
        columns={
            "module_id": "id", "course_id": "id", "parent_module_id": "id", "title": "text",
            "status": "enum", "position": "int", "thumbnail_url": "url",
        },
        required=("module_id", "course_id", "title"),
        references=(Reference("course_id", "courses"), Reference("parent_module_id", "modules")),
    ),
    "lessons": TableSpec(
        name="lessons",
        key="lesson_id",
        columns={
            "lesson_id": "id", "course_id": "id", "module_id": "id", "title": "text",
            "content_type": "enum", "description": "html", "video_url": "url", "thumbnail_url": "url",
            "position": "int", "status": "enum", "duration_minutes": "duration",
        },
        # course_id may be left out when module_id is given: it is taken from the module.
        required=("lesson_id", "title"),
        references=(Reference("course_id", "courses"), Reference("module_id", "modules")),
    ),
    "materials": TableSpec(
        name="materials",
        key="material_id",
        columns={"material_id": "id", "lesson_id": "id", "title": "text", "url": "url", "file_type": "text"},
        required=("material_id", "lesson_id", "title", "url"),
        references=(Reference("lesson_id", "lessons"),),
    ),
}
TABLE_ORDER = tuple(TABLES)


def _text(nullable: bool = True, **checks) -> pa.Field:
    return pa.Field(nullable=nullable, **checks)


def _every_element_matches(series: pd.Series, pattern: str) -> pd.Series:
    """Element-wise check of a list column: True where every item of the list matches pattern."""
    exploded = series.explode().dropna().astype("str")
    bad_rows = exploded[~exploded.str.match(pattern)].index.unique()
    return pd.Series(~series.index.isin(bad_rows), index=series.index)


class _Base(pa.DataFrameModel):
    class Config:
        strict = False  # origin and unmapped helper columns may ride along
        coerce = False  # values are parsed by values.py, which reports cells it cannot read


class CourseSchema(_Base):
    course_id: Series[str] = _text(False, str_length={"min_value": 1, "max_value": TITLE_MAX})
    title: Series[str] = _text(False, str_length={"min_value": 1, "max_value": TITLE_MAX})
    description: Series[str] = _text()
    course_type: Series[str] = pa.Field(isin=list(COURSE_TYPES))
    status: Series[str] = pa.Field(isin=list(COURSE_STATUSES))
    slug: Series[str] = _text(str_matches=SLUG)
    image_url: Series[str] = _text(str_matches=HTTP_URL)
    course_url: Series[str] = _text(str_matches=HTTP_URL)
    duration_minutes: Series[pd.Int64Dtype] = pa.Field(nullable=True, gt=0)
    languages: Series[object]
    tags: Series[object]
    authors: Series[object]
    instructor_name: Series[str] = _text()
    instructor_bio: Series[str] = _text()
    is_free: Series[pd.BooleanDtype] = pa.Field(nullable=False)
    source: Series[str] = _text()
    custom_fields: Series[object]

    @pa.check("languages", name="bcp47_language_tags")
    def _languages_are_tags(cls, languages: Series[object]) -> Series[bool]:
        return _every_element_matches(languages, BCP47)


class ModuleSchema(_Base):
    module_id: Series[str] = _text(False, str_length={"min_value": 1, "max_value": TITLE_MAX})
    course_id: Series[str] = _text(False)
    parent_module_id: Series[str] = _text()
    title: Series[str] = _text(False, str_length={"min_value": 1, "max_value": TITLE_MAX})
    status: Series[str] = pa.Field(isin=list(COURSE_STATUSES))
    position: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0)
    thumbnail_url: Series[str] = _text(str_matches=HTTP_URL)


class LessonSchema(_Base):
    lesson_id: Series[str] = _text(False, str_length={"min_value": 1, "max_value": TITLE_MAX})
    course_id: Series[str] = _text(False)
    module_id: Series[str] = _text()
    title: Series[str] = _text(False, str_length={"min_value": 1, "max_value": TITLE_MAX})
    content_type: Series[str] = pa.Field(isin=list(CONTENT_TYPES))
    description: Series[str] = _text()
    video_url: Series[str] = _text(str_matches=HTTP_URL)
    thumbnail_url: Series[str] = _text(str_matches=HTTP_URL)
    position: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0)
    status: Series[str] = pa.Field(isin=list(COURSE_STATUSES))
    duration_minutes: Series[pd.Int64Dtype] = pa.Field(nullable=True, gt=0)


class MaterialSchema(_Base):
    material_id: Series[str] = _text(False, str_length={"min_value": 1, "max_value": TITLE_MAX})
    lesson_id: Series[str] = _text(False)
    title: Series[str] = _text(False, str_length={"min_value": 1, "max_value": TITLE_MAX})
    url: Series[str] = _text(False, str_matches=HTTP_URL)
    file_type: Series[str] = _text(str_matches=r"^[a-z0-9]{1,10}$")


SCHEMAS: dict[str, type[_Base]] = {
    "courses": CourseSchema,
    "modules": ModuleSchema,
    "lessons": LessonSchema,
    "materials": MaterialSchema,
}
