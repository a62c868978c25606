"""IMS Common Cartridge 1.0-1.3 (Canvas, Moodle, Brightspace/D2L, Blackboard, Sakai, Schoology exports)
into our four tables, in our column names: no mapping needed.

- course: the manifest's LOM (title, description, language, keywords -> tags); Canvas's
  course_settings/ adds what the LOM lacks (title, locale, course code, start, the syllabus).
- modules: the organization's items that have children; the first level are modules, the second
  sub-modules; deeper levels are flattened into their sub-module's level with the path in the title
  ("Week 1 / Reading").
- lessons: items pointing (identifierref) at a resource; the content type follows the resource type.
  Items with neither children nor a resource are headers (Canvas text headers) and are left out.
- materials: the files a lesson's resource carries (a web link's URL, an LTI tool's launch URL, a
  document); a file inside the cartridge becomes `defaults.materials.url` + its path, since the
  cartridge itself has no address on the web.

Lineage: `_file` is `<cartridge>/imsmanifest.xml`, `_sheet` the item's identifier, `_row` its line.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from urllib.parse import quote
from xml.etree.ElementTree import Element

from .archives import (
    Archive,
    clean_html,
    frames_from_rows,
    html_body,
    is_video_url,
    line_numbers,
    link_file_type,
    local,
    safe_member_name,
    text_of,
)
from .errors import SourceReadError
from .schema import TABLES

MANIFEST = "imsmanifest.xml"
KNOWN_VERSIONS = ("1.0", "1.1", "1.2", "1.3")
SUFFIXES = (".imscc", ".zip")
# Files of a web page that are part of the page itself, not materials of their own.
_PAGE_PARTS = {"gif", "png", "jpg", "jpeg", "svg", "webp", "bmp", "css", "js", "ico", "woff", "woff2", "ttf"}
_HTML = re.compile(r"(?i)\.x?html?$")
# Resource type (version suffix removed) -> our content type.
RESOURCE_TYPES = {
    "webcontent": "text",  # a page; a file that is not a page is a document
    "imswl_xmlv": "text",  # a web link: a video link is a video lesson, any other link a material
    "imsbasiclti_xmlv": "assignment",  # an LTI tool: an activity outside the course
    "imsdt_xmlv": "assignment",  # a discussion topic: learners post
    "assessment": "quiz",  # imsqti_xmlv1p2/imscc_xmlv1pN/assessment
    "question-bank": "quiz",
    "assignment_xmlv": "assignment",  # Canvas (and the CC 1.3 assignment extension)
    "learning-application-resource": "document",
}
# Canvas module_meta content types, for items whose resource the manifest does not carry.
CANVAS_ITEM_TYPES = {"ContextExternalTool": "assignment", "ExternalUrl": "text", "Attachment": "document",
                     "WikiPage": "text", "Assignment": "assignment", "Quizzes::Quiz": "quiz",
                     "DiscussionTopic": "assignment"}


def columns() -> dict[str, list[str]]:
    from .sources import EXPORT_FORMATS

    out = {t: [c for c in spec.columns if c != "custom_fields"] for t, spec in TABLES.items()}
    out["courses"] += list(EXPORT_FORMATS["imscc"])
    return out


def cartridge_files(path: Path) -> list[Path]:
    """One cartridge, or every cartridge in a folder (one course each)."""
    if not path.is_dir():
        return [path]
    found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not found:
        raise SourceReadError(f"the folder {path.name} holds no .imscc or .zip cartridge")
    return found


def read_cartridge_tables(source) -> tuple[dict, dict[str, str]]:
    """Every cartridge of a source into our four tables; a cartridge that cannot be read is an error
    naming it, and the others are still read."""
    rows: dict[str, list[dict]] = {t: [] for t in TABLES}
    problems = []
    base = (source.defaults.get("materials") or {}).get("url")
    for file in cartridge_files(source.path):
        try:
            with Archive(file) as archive:
                part = Cartridge(archive, files_base=base).read()
        except SourceReadError as exc:
            problems.append(str(exc))
            continue
        for table, records in part.items():
            rows[table] += records
    frames = frames_from_rows(rows, source=source.name, columns=columns())
    return frames, ({"courses": "; ".join(problems)} if problems else {})


def _version(metadata: Element | None, root: Element) -> str | None:
    version = text_of(metadata.find("{*}schemaversion")) if metadata is not None else None
    if version is None:  # CC 1.0 also writes it as an attribute
        match = re.search(r"\d+(?:\.\d+)+", root.get("version") or "")
        version = match.group(0) if match else None
    return version


def _lom_string(lom: Element | None, path: str) -> str | None:
    if lom is None:
        return None
    node = lom.find(path)
    if node is None:
        return None
    strings = [text_of(s) for s in node.iter() if local(s.tag) in ("string", "langstring")]
    return next((s for s in strings if s), None) or text_of(node)


class Cartridge:
    def __init__(self, archive: Archive, *, files_base: str | None = None):
        self.archive = archive
        self.files_base = files_base
        self.label = archive.label
        self.where = f"{self.label}/{MANIFEST}"
        self.rows: dict[str, list[dict]] = {t: [] for t in TABLES}

    # ------------------------------------------------------------------------------------- helpers
    def origin(self, identifier: str, *, file: str | None = None) -> dict:
        return {"_file": f"{self.label}/{file or MANIFEST}", "_sheet": identifier,
                "_row": self.lines.get(identifier, 1)}

    def optional_xml(self, name: str | None) -> Element | None:
        if not name or name not in self.archive:
            return None
        return self.archive.xml(name)

    def material_url(self, path: str) -> str:
        if self.files_base:
            return self.files_base.rstrip("/") + "/" + quote(path)
        return path  # no address on the web: rejected as a URL, with the path shown

    # ---------------------------------------------------------------------------------------- read
    def read(self) -> dict[str, list[dict]]:
        if MANIFEST not in self.archive:
            nested = [n for n in self.archive.names() if n.endswith("/" + MANIFEST)]
            hint = f" (it is at {nested[0]}: zip the folder's contents, not the folder)" if nested else ""
            raise SourceReadError(f"{self.label} has no {MANIFEST} at its top: is it an IMS Common Cartridge "
                                  f"(.imscc) export?{hint}")
        raw = self.archive.read(MANIFEST)
        self.lines = line_numbers(raw)
        root = self.archive.xml(MANIFEST)
        if local(root.tag) != "manifest":
            raise SourceReadError(f"{self.where}: the root element is <{local(root.tag)}>, expected <manifest>")
        metadata = root.find("{*}metadata")
        self.version = _version(metadata, root)
        self.known = bool(self.version) and any(self.version == v or self.version.startswith(v + ".")
                                                for v in KNOWN_VERSIONS)
        self.resources = {r.get("identifier"): r for r in root.iter() if local(r.tag) == "resource"}
        self.canvas = self._canvas_module_meta()
        course_id = root.get("identifier") or Path(self.label).stem
        self.course_id = course_id
        self._course(root, metadata)
        organization = next((o for o in root.iter() if local(o.tag) == "organization"), None)
        if organization is not None:
            top = [i for i in organization if local(i.tag) == "item"]
            if len(top) == 1 and not top[0].get("identifierref"):  # rooted hierarchy: the root is not shown
                top = [i for i in top[0] if local(i.tag) == "item"]
            self._walk(top, module=None, parent=None, depth=0, path=())
        return self.rows

    def _canvas_module_meta(self) -> dict[str, dict]:
        """Canvas's own outline: item id -> content type, state, URL (what the manifest leaves out)."""
        meta = self.optional_xml("course_settings/module_meta.xml")
        out: dict[str, dict] = {}
        if meta is None:
            return out
        for element in meta.iter():
            if local(element.tag) not in ("module", "item"):
                continue
            fields = {local(c.tag): text_of(c) for c in element}
            out[element.get("identifier")] = fields
            if fields.get("identifierref"):
                out.setdefault(fields["identifierref"], fields)
        return out

    def _course(self, root: Element, metadata: Element | None) -> None:
        lom = next((e for e in metadata.iter() if local(e.tag) == "lom"), None) if metadata is not None else None
        general = "{*}general"
        settings = self.optional_xml("course_settings/course_settings.xml")
        setting = {local(c.tag): text_of(c) for c in settings} if settings is not None else {}
        description = _lom_string(lom, f"{general}/{{*}}description")
        if description is None and "course_settings/syllabus.html" in self.archive:
            description = clean_html(html_body(self.archive.read_text("course_settings/syllabus.html")))
        keywords = [k.strip() for node in (lom.findall(f"{general}/{{*}}keyword") if lom is not None else [])
                    for s in node.iter() if local(s.tag) in ("string", "langstring") and s.text
                    for k in s.text.split(",") if k.strip()]
        language = text_of(lom.find(f"{general}/{{*}}language")) if lom is not None else None
        self.rows["courses"].append({
            "course_id": self.course_id,
            "title": _lom_string(lom, f"{general}/{{*}}title") or setting.get("title") or Path(self.label).stem,
            "description": description,
            "languages": language or setting.get("locale"),
            "tags": keywords,
            "cartridge_version": self.version,
            "course_code": setting.get("course_code"),
            "start_at": setting.get("start_at"),
            **self.origin(root.get("identifier") or "manifest"),
        })

    def _walk(self, items: list[Element], *, module: str | None, parent: str | None, depth: int,
              path: tuple[str, ...]) -> None:
        position = 0
        for item in items:
            children = [c for c in item if local(c.tag) == "item"]
            identifier = item.get("identifier") or f"item-{len(self.rows['lessons'])}"
            title = text_of(item.find("{*}title"))
            if children:
                position += 1
                title = title or identifier
                if depth == 0:
                    module_id, parent_id, shown = self._id(identifier), None, title
                else:  # our modules nest once: deeper levels sit beside their sub-module, the path in the title
                    parent_id = parent or module
                    module_id, shown = self._id(identifier), " / ".join((*path[1:], title))
                meta = self.canvas.get(identifier, {})
                self.rows["modules"].append({
                    "module_id": module_id, "course_id": self.course_id, "parent_module_id": parent_id,
                    "title": shown, "position": position, "status": _status(meta.get("workflow_state")),
                    **self.origin(identifier)})
                self._walk(children, module=module_id, parent=module_id if depth == 0 else parent_id,
                           depth=depth + 1, path=(*path, title))
            elif item.get("identifierref"):
                position += 1
                self._lesson(item, identifier, title, module, position)
            # else: a header (no children, no resource): not a lesson

    def _id(self, identifier: str) -> str:
        return f"{self.course_id}/{identifier}"

    def _lesson(self, item: Element, identifier: str, title: str | None, module: str | None,
                position: int) -> None:
        ref = item.get("identifierref")
        lesson_id = self._id(identifier)
        meta = self.canvas.get(identifier) or self.canvas.get(ref) or {}
        lesson = {"lesson_id": lesson_id, "course_id": self.course_id, "module_id": module,
                  "title": title or meta.get("title"), "position": position,
                  "status": _status(meta.get("workflow_state")), **self.origin(identifier)}
        materials: list[tuple[str, str, str | None]] = []  # (title, url, file_type)
        resource = self.resources.get(ref)
        if resource is None:
            kind = CANVAS_ITEM_TYPES.get(meta.get("content_type") or "")
            if kind and meta.get("url"):  # Canvas keeps external tools and URLs in module_meta only
                lesson["content_type"] = kind
                self._link(lesson, materials, meta["url"], lesson["title"])
            else:  # rejected (not a content type), the value saying why; the other lessons go on
                lesson["content_type"] = f"identifierref {ref} matches no resource"
        else:
            self._from_resource(lesson, materials, resource)
        self.rows["lessons"].append(lesson)
        for n, (mtitle, url, file_type) in enumerate(materials, start=1):
            self.rows["materials"].append({"material_id": f"{lesson_id}#{n}", "lesson_id": lesson_id,
                                           "title": mtitle, "url": url, "file_type": file_type,
                                           **self.origin(identifier)})

    def _link(self, lesson: dict, materials: list, url: str, title: str | None) -> None:
        if is_video_url(url) and lesson["content_type"] == "text":
            lesson["content_type"], lesson["video_url"] = "video", url
        else:
            materials.append((title or url, url, link_file_type(url)))

    def _from_resource(self, lesson: dict, materials: list, resource: Element) -> None:
        rtype = resource.get("type") or ""
        key = next((k for k in RESOURCE_TYPES if k in rtype), None)
        if key is None:
            unknown = "" if self.known else f" (IMS CC {self.version or 'of no stated version'}: this reader knows " \
                                            f"{', '.join(KNOWN_VERSIONS)})"
            lesson["content_type"] = f"resource type {rtype!r} not known{unknown}"
            return
        lesson["content_type"] = RESOURCE_TYPES[key]
        href = resource.get("href")
        files = [f.get("href") for f in resource if local(f.tag) == "file" and f.get("href")]
        files = [safe_member_name(f, archive=self.label) for f in files] or ([href] if href else [])
        href = safe_member_name(href, archive=self.label) if href else None
        first = files[0] if files else None
        if key == "webcontent":
            page = href or first
            if page and _HTML.search(page):
                lesson["description"] = self._page(page)
            elif page:
                lesson["content_type"] = "document"
            for file in files:
                ext = file.rsplit(".", 1)[-1].lower() if "." in file else ""
                if file == page and _HTML.search(page):
                    continue
                if _HTML.search(page or "") and ext in _PAGE_PARTS:
                    continue
                materials.append((posixpath.basename(file), self.material_url(file), ext or None))
        elif key == "imswl_xmlv":
            doc = self.optional_xml(first)
            url_node = next((e for e in doc.iter() if local(e.tag) == "url"), None) if doc is not None else None
            if url_node is not None and url_node.get("href"):
                self._link(lesson, materials, url_node.get("href"), lesson["title"])
        elif key == "imsbasiclti_xmlv":
            doc = self.optional_xml(first)
            if doc is not None:
                fields = {local(e.tag): text_of(e) for e in doc}
                lesson["description"] = fields.get("description")
                url = fields.get("secure_launch_url") or fields.get("launch_url")
                if url:
                    materials.append((f"{lesson['title'] or 'Tool'} (LTI launch)", url, "html"))
        elif key in ("imsdt_xmlv", "assignment_xmlv"):
            doc = self.optional_xml(first)
            if doc is not None:
                text = next((e for e in doc if local(e.tag) == "text"), None)
                lesson["description"] = clean_html(text.text) if text is not None else None
                for attachment in doc.iter():
                    if local(attachment.tag) == "attachment" and attachment.get("href"):
                        path = posixpath.normpath(posixpath.join(posixpath.dirname(first), attachment.get("href")))
                        materials.append((posixpath.basename(path), self.material_url(path),
                                          path.rsplit(".", 1)[-1].lower() if "." in path else None))
            if not lesson.get("description"):
                lesson["description"] = self._fallback_page(resource.get("identifier"))
        elif key == "learning-application-resource":
            for file in files:
                materials.append((posixpath.basename(file), self.material_url(file),
                                  file.rsplit(".", 1)[-1].lower() if "." in file else None))

    def _page(self, name: str) -> str | None:
        if name not in self.archive:
            return None
        return clean_html(html_body(self.archive.read_text(name)))

    def _fallback_page(self, identifier: str | None) -> str | None:
        """Canvas writes an assignment's page as a webcontent variant `<id>_fallback`."""
        fallback = self.resources.get(f"{identifier}_fallback")
        if fallback is None:
            return None
        page = next((f.get("href") for f in fallback if local(f.tag) == "file"), None)
        return self._page(page) if page else None


def _status(state: str | None) -> str | None:
    return {"active": "published", "published": "published", "unpublished": "draft",
            "deleted": "archived"}.get((state or "").lower())
