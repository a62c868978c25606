"""HighLevel (LeadConnector) course importer: one product per course; top-level modules become
categories, sub-modules subCategories, lessons posts, materials postMaterials.

Content types: HighLevel posts are video, assignment or quiz. Ours map as
video, audio, live -> video (a media post); quiz -> quiz; text, document, assignment, scorm -> assignment
(a post that carries text and attachments).
"""

from __future__ import annotations

from typing import ClassVar

from ..base import CourseBundle, PayloadBuilder, VendorRejected
from ..text import plain_text, title_text

# The 53 file kinds HighLevel's PostMaterialInterface.type accepts (vendor-schemas/highlevel-courses).
FILE_TYPES = frozenset((
    "pdf image docx pptx xlsx html dotx epub webp gdoc mp3 doc txt zip ppt key htm xls odp odt rtf m4a ods mp4 "
    "ai avi mov wmv mkv wav flac ogg png jpeg jpg gif bmp tiff svg odg sxw sxc sxi rar 7z json xml csv md obj "
    "stl woff ttf").split())
CONTENT_TYPES = {"video": "video", "audio": "video", "live": "video", "quiz": "quiz", "text": "assignment",
                 "document": "assignment", "assignment": "assignment", "scorm": "assignment"}
LOOSE_LESSONS_CATEGORY = "Lessons"  # the category for lessons a course has outside any module


def visibility(status: str | None) -> str:
    return "published" if status == "published" else "draft"


class HighLevel(PayloadBuilder):
    name: ClassVar[str] = "highlevel"
    sends_parts = ("modules", "lessons", "materials")

    def __init__(self, location_id: str = ""):
        self.location_id = location_id

    def request_body(self, products: list[dict]) -> dict:
        return {"locationId": self.location_id, "products": products}

    def build(self, bundle: CourseBundle) -> dict:
        course = bundle.course
        if course["status"] == "archived":
            raise VendorRejected("archived", "archived: HighLevel's importer only creates courses and has no "
                                             "archived state, so an archived course is not sent")
        categories, by_module = [], {}
        for module in bundle.modules:
            entry = {"title": title_text(module["title"], "module title"), "visibility": visibility(module["status"]),
                     "posts": [self._post(bundle, lesson) for lesson in bundle.lessons_of(module["module_id"])]}
            if module.get("thumbnail_url"):
                entry["thumbnailUrl"] = module["thumbnail_url"]
            parent = module.get("parent_module_id")
            if parent:
                by_module[parent].setdefault("subCategories", []).append(entry)
            else:
                categories.append(entry)
                by_module[module["module_id"]] = entry
        loose = bundle.lessons_of(None)
        if loose:
            categories.append({"title": LOOSE_LESSONS_CATEGORY, "visibility": visibility(course["status"]),
                               "posts": [self._post(bundle, lesson) for lesson in loose]})
        product = {"title": title_text(course["title"]), "description": plain_text(course["description"]),
                   "categories": categories}
        if course.get("image_url"):
            product["imageUrl"] = course["image_url"]
        if course.get("instructor_name") and course.get("instructor_bio"):
            product["instructorDetails"] = {"name": plain_text(course["instructor_name"]),
                                            "description": plain_text(course["instructor_bio"])}
        return product

    def _post(self, bundle: CourseBundle, lesson: dict) -> dict:
        post = {"title": title_text(lesson["title"], "lesson title"), "visibility": visibility(lesson["status"]),
                "contentType": CONTENT_TYPES[lesson["content_type"]],
                "description": plain_text(lesson.get("description"))}
        if lesson.get("thumbnail_url"):
            post["thumbnailUrl"] = lesson["thumbnail_url"]
        if lesson.get("video_url"):
            post["bucketVideoUrl"] = lesson["video_url"]
        materials = bundle.materials.get(lesson["lesson_id"], [])
        if materials:
            post["postMaterials"] = [self._material(m) for m in materials]
        return post

    @staticmethod
    def _material(material: dict) -> dict:
        kind = material.get("file_type")
        if kind not in FILE_TYPES:
            what = f"file kind {kind!r} is not one of the 53 HighLevel accepts" if kind else \
                "has no file kind (set file_type, or use a URL that ends in an extension)"
            raise VendorRejected("material_type", f"material {material['material_id']} ({material['url']}): {what}")
        return {"title": title_text(material["title"], "material title"), "type": kind, "url": material["url"]}
