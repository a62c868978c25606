"""Open edX OLX course exports (a .tar.gz from Studio, or its unpacked folder) into our four tables,
in our column names: no mapping needed.

- course: course.xml and course/<url_name>.xml (title, language, start), policies/<url_name>/policy.json
  where the XML leaves them out, about/overview.html (description) and about/short_description.html.
- modules: chapters (sections); sequentials (subsections) are their sub-modules.
- lessons: verticals (units); the content type follows their components: a video makes a video lesson
  (with its YouTube or HTML5 URL), a problem or another graded block a quiz, staff-graded or LTI blocks an
  assignment, otherwise text. The unit's HTML components are its description.
- materials: the launch URLs of LTI components.

An element is either written inline or as a pointer (`<vertical url_name="x"/>` -> vertical/x.xml).
Lineage: `_file` is `<export>/<path of the XML file>`, `_sheet` the element (`vertical x`), `_row` its line.
"""

from __future__ import annotations

import json
import posixpath
from xml.etree.ElementTree import Element, tostring

from .archives import Archive, clean_html, frames_from_rows, line_numbers, local
from .errors import SourceReadError
from .schema import TABLES

QUIZ_BLOCKS = {"problem", "openassessment", "library_content", "poll", "survey", "drag-and-drop-v2",
               "problem-builder", "word_cloud"}
ASSIGNMENT_BLOCKS = {"edx_sga", "staffgradedxblock", "lti", "lti_consumer"}


def columns() -> dict[str, list[str]]:
    from .sources import EXPORT_FORMATS

    out = {t: [c for c in spec.columns if c != "custom_fields"] for t, spec in TABLES.items()}
    out["courses"] += list(EXPORT_FORMATS["olx"])
    return out


def read_olx_tables(source) -> tuple[dict, dict[str, str]]:
    with Archive(source.path) as archive:
        rows = OlxCourse(archive).read()
    return frames_from_rows(rows, source=source.name, columns=columns()), {}


def _video_url(video: Element) -> str | None:
    youtube = video.get("youtube_id_1_0")
    if not youtube and video.get("youtube"):  # "0.75:id1,1.00:id2"
        speeds = dict(part.split(":", 1) for part in video.get("youtube").split(",") if ":" in part)
        youtube = speeds.get("1.00") or speeds.get("1.0")
    if youtube:
        return f"https://www.youtube.com/watch?v={youtube.strip()}"
    try:
        sources = json.loads(video.get("html5_sources") or "[]")
    except ValueError:
        sources = []
    sources += [s.get("src") for s in video if local(s.tag) == "source" and s.get("src")]
    return next((s for s in sources if isinstance(s, str) and s.startswith(("http://", "https://"))), None)


class OlxCourse:
    def __init__(self, archive: Archive):
        self.archive = archive
        self.label = archive.label
        self.rows: dict[str, list[dict]] = {t: [] for t in TABLES}
        self._lines: dict[str, dict[str, int]] = {}

    def read(self) -> dict[str, list[dict]]:
        candidates = sorted((n for n in self.archive.names() if posixpath.basename(n) == "course.xml"),
                            key=lambda n: (n.count("/"), n))
        if not candidates:
            raise SourceReadError(f"{self.label} has no course.xml: is it an Open edX course export (OLX)?")
        self.root = posixpath.dirname(candidates[0])
        pointer, pointer_file = self._xml("course.xml"), "course.xml"
        if local(pointer.tag) != "course":
            raise SourceReadError(f"{self.label}: {self._path('course.xml')} has <{local(pointer.tag)}> at its "
                                  "root, expected <course>")
        url_name = pointer.get("url_name") or "course"
        course, course_file = self._resolve("course", pointer, pointer_file)
        policy = self._policy(url_name)
        key = f"course-v1:{pointer.get('org') or course.get('org')}+{pointer.get('course') or course.get('course')}" \
              f"+{url_name}"
        self.course_id = key
        overview = self._about("overview")
        short = self._about("short_description")
        self.rows["courses"].append({
            "course_id": key,
            "title": course.get("display_name") or policy.get("display_name") or self._about("title") or url_name,
            "description": clean_html(overview) or short,
            "languages": course.get("language") or policy.get("language"),
            "duration_minutes": self._about("duration"),
            "status": "draft" if course.get("visible_to_staff_only") == "true" else None,
            "course_key": key, "start": course.get("start") or policy.get("start"),
            "short_description": short,
            **self._origin(course_file, "course", url_name, course)})
        chapters = [c for c in course if local(c.tag) == "chapter"]
        for position, chapter in enumerate(chapters, start=1):
            self._section(chapter, course_file, position, parent=None)
        return self.rows

    # ------------------------------------------------------------------------------------- reading
    def _path(self, name: str) -> str:
        return posixpath.join(self.root, name) if self.root else name

    def _xml(self, name: str) -> Element:
        path = self._path(name)
        raw = self.archive.read(path)
        self._lines[name] = line_numbers(raw)
        return self.archive.xml(path)

    def _resolve(self, tag: str, element: Element, file: str) -> tuple[Element, str]:
        """A pointer (`<tag url_name="x"/>` with tag/x.xml in the export) is followed; else the element."""
        url_name = element.get("url_name")
        target = f"{tag}/{url_name}.xml"
        if url_name and len(element) == 0 and self._path(target) in self.archive:
            return self._xml(target), target
        return element, file

    def _origin(self, file: str, tag: str, url_name: str | None, element: Element) -> dict:
        line = self._lines.get(file, {}).get(url_name or "", 1)
        return {"_file": f"{self.label}/{self._path(file)}", "_sheet": f"{tag} {url_name or '?'}", "_row": line}

    def _policy(self, url_name: str) -> dict:
        name = self._path(f"policies/{url_name}/policy.json")
        if name not in self.archive:
            return {}
        try:
            document = json.loads(self.archive.read(name))
        except ValueError as exc:
            raise SourceReadError(f"{self.label}: {name} is not valid JSON: {exc}") from None
        return document.get(f"course/{url_name}", {}) if isinstance(document, dict) else {}

    def _about(self, name: str) -> str | None:
        path = self._path(f"about/{name}.html")
        if path not in self.archive:
            return None
        text = self.archive.read_text(path).strip()
        return text or None

    # ------------------------------------------------------------------------------------- outline
    def _section(self, pointer: Element, file: str, position: int, parent: str | None) -> None:
        tag = local(pointer.tag)
        element, file = self._resolve(tag, pointer, file)
        url_name = pointer.get("url_name") or element.get("url_name") or f"{tag}-{position}"
        module_id = f"{self.course_id}/{url_name}"
        self.rows["modules"].append({
            "module_id": module_id, "course_id": self.course_id, "parent_module_id": parent,
            "title": element.get("display_name") or url_name, "position": position,
            "status": "draft" if element.get("visible_to_staff_only") == "true" else None,
            **self._origin(file, tag, url_name, pointer)})
        lessons = 0
        for child in element:
            child_tag = local(child.tag)
            if child_tag == "sequential" and parent is None:
                self._section(child, file, self._position(element, child), module_id)
            elif child_tag == "vertical":
                lessons += 1
                self._unit(child, file, lessons, module_id)

    @staticmethod
    def _position(parent: Element, child: Element) -> int:
        return [c for c in parent if local(c.tag) == local(child.tag)].index(child) + 1

    def _unit(self, pointer: Element, file: str, position: int, module_id: str) -> None:
        element, file = self._resolve("vertical", pointer, file)
        url_name = pointer.get("url_name") or element.get("url_name") or f"vertical-{position}"
        lesson_id = f"{self.course_id}/{url_name}"
        kinds, video_url, pages, launches = set(), None, [], []
        for component in element:
            tag = local(component.tag)
            block, block_file = self._resolve(tag, component, file)
            kinds.add(tag)
            if tag == "video" and video_url is None:
                video_url = _video_url(block)
            elif tag == "html":
                pages.append(self._html(block, block_file))
            elif tag in ("lti", "lti_consumer") and block.get("launch_url"):
                launches.append((block.get("display_name") or "LTI tool", block.get("launch_url")))
        if "video" in kinds:
            content_type = "video"
        elif kinds & QUIZ_BLOCKS:
            content_type = "quiz"
        elif kinds & ASSIGNMENT_BLOCKS:
            content_type = "assignment"
        else:
            content_type = "text"
        self.rows["lessons"].append({
            "lesson_id": lesson_id, "course_id": self.course_id, "module_id": module_id,
            "title": element.get("display_name") or url_name, "content_type": content_type,
            "description": clean_html("\n".join(p for p in pages if p)), "video_url": video_url,
            "position": position,
            "status": "draft" if element.get("visible_to_staff_only") == "true" else None,
            **self._origin(file, "vertical", url_name, pointer)})
        for n, (title, url) in enumerate(launches, start=1):
            self.rows["materials"].append({"material_id": f"{lesson_id}#{n}", "lesson_id": lesson_id,
                                           "title": title, "url": url, "file_type": "html",
                                           **self._origin(file, "vertical", url_name, pointer)})

    def _html(self, block: Element, file: str) -> str | None:
        """An HTML component's content: html/<filename>.html when it points at one, else written inline."""
        filename = block.get("filename")
        if filename:
            path = self._path(posixpath.join(posixpath.dirname(file), f"{filename}.html"))
            if path in self.archive:
                return self.archive.read_text(path)
        inner = (block.text or "") + "".join(tostring(c, encoding="unicode") for c in block)
        return inner.strip() or None
