"""StackOne unified LMS: batch upsert keyed by external_reference (our course id).

Languages go as StackOne's listed locales ('en-GB' -> en_GB; a bare 'de' takes its likely region, de_DE)
with the original tag in source_value; a tag whose locale StackOne does not list (eu -> eu_ES, cy, gl,
fil) or with no region to be had goes as {"value": "unmapped_value", "source_value": tag}, as StackOne
documents (locales.py). Lessons become content[] in learner order; tags become categories[]."""

from __future__ import annotations

from typing import ClassVar

from ..base import CourseBundle, PayloadBuilder
from ..languages import locale_code
from ..text import plain_text, text_values, title_text
from .locales import LOCALES, UNMAPPED


def iso_duration(minutes: int) -> str:
    """90 -> PT1H30M; hours are not folded into days (a day of a course is not 24 hours of it)."""
    hours, rest = divmod(int(minutes), 60)
    return "PT" + (f"{hours}H" if hours else "") + (f"{rest}M" if rest or not hours else "")


def stackone_locale(tag: str) -> str:
    """The listed locale for a BCP 47 tag, else unmapped_value (StackOne refuses any other value)."""
    code = locale_code(tag)
    if code is None:
        return UNMAPPED
    if code in LOCALES:
        return code
    hyphenated = code.replace("_", "-")  # the list spells one locale so: bs-ME
    return hyphenated if hyphenated in LOCALES else UNMAPPED


def _without_none(mapping: dict) -> dict:
    return {k: v for k, v in mapping.items() if v is not None}


class StackOne(PayloadBuilder):
    name: ClassVar[str] = "stackone"
    sends_parts = ("lessons",)

    def request_body(self, items: list[dict]) -> dict:
        return {"items": items}

    def build(self, bundle: CourseBundle) -> dict:
        course = bundle.course
        duration = course.get("duration_minutes")
        content = [_without_none({
            "external_reference": lesson["lesson_id"],
            "title": title_text(lesson["title"], "lesson title"),
            "description": plain_text(lesson.get("description")) or None,
            "content_url": lesson.get("video_url"),
            "order": order,
        }) for order, lesson in enumerate(bundle.lessons, start=1)]
        return _without_none({
            "external_reference": course["course_id"],
            "title": title_text(course["title"]),
            "description": plain_text(course.get("description")) or None,
            "languages": [{"value": stackone_locale(tag), "source_value": tag}
                          for tag in course["languages"]] or None,
            "cover_url": course.get("image_url"),
            "url": course.get("course_url"),
            "active": course["status"] == "published",
            "duration": iso_duration(duration) if duration else None,
            "categories": [{"name": plain_text(tag)} for tag in course["tags"]] or None,
            "content": content or None,
            "unified_custom_fields": text_values(course.get("custom_fields")) or None,
        })
