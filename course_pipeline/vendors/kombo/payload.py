"""Kombo unified LMS: bulk upsert of EXTERNAL courses keyed by origin_id (our course id).

Fields we no longer have are sent as null, so an upsert clears them on the LMS too."""

from __future__ import annotations

from typing import ClassVar

from ..base import CourseBundle, PayloadBuilder, VendorRejected
from ..languages import language_region, unique
from ..text import plain_text, title_text


class Kombo(PayloadBuilder):
    name: ClassVar[str] = "kombo"

    def request_body(self, items: list[dict]) -> dict:
        return {"items": items}

    def build(self, bundle: CourseBundle) -> dict:
        course = bundle.course
        if not course.get("course_url"):
            raise VendorRejected("course_url_required", "Kombo courses are EXTERNAL and need a course_url "
                                                        "(the page where learners open the course)")
        if course["status"] == "archived":
            raise VendorRejected("archived", "archived: Kombo has no archived state; a course synced before is "
                                             "deactivated instead")
        duration = course.get("duration_minutes")
        languages = unique([language_region(tag) for tag in course["languages"]])
        return {"origin_id": course["course_id"], "course": {
            "type": "EXTERNAL",
            "title": title_text(course["title"]),
            "course_url": course["course_url"],
            "description": plain_text(course.get("description")) or None,
            "thumbnail_url": course.get("image_url"),
            "duration": int(duration) if duration and duration > 0 else None,
            "languages": languages or None,
        }}
