"""HighLevel (LeadConnector) course importer: one product per course; top-level modules become
categories, sub-modules subCategories, lessons posts, materials postMaterials.

Content types: HighLevel posts are video, assignment or quiz. Ours map as
video, audio, live -> video (a media post); quiz -> quiz; text, document, assignment, scorm -> assignment
(a post that carries text and attachments).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import ClassVar

import requests

from .base import CourseBundle, Vendor, VendorRejected
from .sync import Result, Send, VendorClient
from .text import plain_text
from .transport import Auth, HttpTransport, NotSent, Redactor, TransportError

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


class HighLevel(Vendor):
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
            entry = {"title": module["title"], "visibility": visibility(module["status"]),
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
        product = {"title": course["title"], "description": plain_text(course["description"]),
                   "categories": categories}
        if course.get("image_url"):
            product["imageUrl"] = course["image_url"]
        if course.get("instructor_name") and course.get("instructor_bio"):
            product["instructorDetails"] = {"name": course["instructor_name"],
                                            "description": plain_text(course["instructor_bio"])}
        return product

    def _post(self, bundle: CourseBundle, lesson: dict) -> dict:
        post = {"title": lesson["title"], "visibility": visibility(lesson["status"]),
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
        return {"title": material["title"], "type": kind, "url": material["url"]}


# ------------------------------------------------------------------------------------------ client

IMPORT_PATH = "/courses/courses-exporter/public/import"
API_VERSION = "2021-07-28"


class HighLevelOAuth(Auth):
    """OAuth with a rotating refresh token: a 401 refreshes once (the transport then retries once) and
    the new refresh token is stored at once (file mode 0600), since the old one is spent."""

    def __init__(self, *, base_url: str, client_id: str, client_secret: str, refresh_token: str,
                 token_file: Path, redactor: Redactor, access_token: str | None = None):
        self.base_url, self.client_id, self.client_secret = base_url.rstrip("/"), client_id, client_secret
        self.token_file = token_file
        self.redact = redactor
        stored = self._load()
        self.refresh_token = stored.get("refresh_token") or refresh_token  # the stored one is newer
        self.access_token = access_token
        self._lock = threading.Lock()
        for secret in (client_secret, refresh_token, self.refresh_token, access_token):
            redactor.add(secret)

    def apply(self, session, headers):
        if self.access_token is None:
            self._refresh(session)
        headers["Authorization"] = f"Bearer {self.access_token}"

    def refresh(self, transport: HttpTransport, used: dict[str, str]) -> bool:
        with self._lock:
            if used.get("Authorization") != f"Bearer {self.access_token}":
                return True  # another thread refreshed meanwhile: just retry with the new token
            return self._refresh(transport.session)

    def _refresh(self, session) -> bool:
        """A failed refresh means the import was never sent: NotSent, so the item fails (it may be retried)."""
        try:
            answer = session.post(f"{self.base_url}/oauth/token", timeout=(5, 30), data={
                "client_id": self.client_id, "client_secret": self.client_secret, "grant_type": "refresh_token",
                "refresh_token": self.refresh_token, "user_type": "Location"})
        except requests.RequestException as exc:
            raise NotSent(f"highlevel token refresh failed: {self.redact(exc)}") from None
        if answer.status_code != 200:
            raise NotSent(f"highlevel token refresh refused ({answer.status_code}): "
                          f"{self.redact(answer.text[:300])}", status=answer.status_code)
        tokens = answer.json()
        self.access_token, self.refresh_token = tokens["access_token"], tokens["refresh_token"]
        self.redact.add(self.access_token)
        self.redact.add(self.refresh_token)
        self._store()
        return True

    def _load(self) -> dict:
        try:
            return json.loads(self.token_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def _store(self) -> None:
        self.token_file.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.token_file.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as fh:
            json.dump({"refresh_token": self.refresh_token}, fh)
        os.chmod(temporary, 0o600)
        os.replace(temporary, self.token_file)


def _error_text(response) -> tuple[str | None, str]:
    """HighLevel's {statusCode, message} (message may be a list), as (code, message)."""
    try:
        body = response.json()
    except ValueError:
        return None, response.text[:300]
    message = body.get("message") if isinstance(body, dict) else body
    if isinstance(message, list):
        message = "; ".join(map(str, message))
    return str(body.get("statusCode", response.status_code)) if isinstance(body, dict) else None, str(message)


class HighLevelClient(VendorClient):
    """Imports products in batches. An import cannot be repeated safely (there is no external id), so a
    lost answer makes the batch `unknown`, and a changed course cannot be updated."""

    vendor = "highlevel"
    batch_size = 10
    can_deactivate = False
    can_update = False
    resend_is_safe = False

    def send(self, batch: list[Send]) -> list[Result]:
        body = {"locationId": self.account, "products": [s.item.body for s in batch]}
        ids = [s.item.course_id for s in batch]
        try:
            response = self.transport.request("POST", IMPORT_PATH, json=body, idempotent=False)
        except NotSent as exc:
            return [Result(cid, "failed", exc.status, "NOT_SENT", exc.message, attempts=exc.attempts) for cid in ids]
        except TransportError as exc:
            return [Result(cid, "unknown", exc.status, "ANSWER_LOST", exc.message, attempts=exc.attempts)
                    for cid in ids]
        if response.status_code != 201:
            code, message = _error_text(response)
            return [Result(cid, "failed", response.status_code, code, self.transport.redact(message),
                           attempts=response.attempts) for cid in ids]
        try:
            processing = response.json().get("processingCourses") or []
        except ValueError:
            processing = []
        # The answer lists the imported courses in the order sent (their ids are ours to keep).
        vendor_ids = [entry.get("id") for entry in processing] if len(processing) == len(batch) else [None] * len(batch)
        return [Result(cid, "created", 201, vendor_id=vid, attempts=response.attempts)
                for cid, vid in zip(ids, vendor_ids, strict=True)]
