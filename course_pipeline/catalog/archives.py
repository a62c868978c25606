"""Course exports read safely: zip and tar.gz archives (or unpacked folders) and the XML inside them.

Nothing is extracted to disk: members are read into memory on demand, under limits on the number
of entries and on the bytes decompressed (against zip bombs); a member whose name would leave the
archive's folder (zip slip: `../`, an absolute path, a link pointing out) refuses the whole archive.
XML is parsed by defusedxml: an entity declaration (billion laughs, external entities) is refused
rather than expanded. Every error is a SourceReadError naming the archive, the member and what was
expected.
"""

from __future__ import annotations

import posixpath
import re
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as SafeET
import nh3
import pandas as pd

from .errors import SourceReadError


@dataclass(frozen=True)
class Limits:
    max_entries: int = 50_000  # members an archive may list
    max_member_bytes: int = 64 << 20  # one XML or HTML file, decompressed
    max_total_bytes: int = 1 << 30  # everything decompressed from one archive


LIMITS = Limits()


def safe_member_name(name: str, *, archive: str) -> str:
    """The member's normalised path inside the archive; SourceReadError if it would leave the folder."""
    clean = name.replace("\\", "/")
    normal = posixpath.normpath(clean) if clean else clean
    if (not normal or clean.startswith("/") or re.match(r"^[A-Za-z]:", clean) or normal == ".."
            or normal.startswith("../")):
        raise SourceReadError(f"{archive}: member {name!r} points outside the archive's folder (zip slip); "
                              "refusing the archive")
    return normal


class Archive:
    """Members of a zip, a tar(.gz) or a folder by their path inside it, read with limits."""

    def __init__(self, path: Path, limits: Limits | None = None):
        self.path = path
        self.label = path.name
        self.limits = limits or LIMITS
        self._read_bytes = 0
        self._zip: zipfile.ZipFile | None = None
        self._members: dict[str, object] = {}  # name -> ZipInfo | bytes | Path
        if path.is_dir():
            self._open_folder()
        elif zipfile.is_zipfile(path):
            self._open_zip()
        elif _is_tar(path):
            self._open_tar()
        else:
            raise SourceReadError(f"{self.label} is neither a zip nor a tar archive (expected a .imscc/.zip "
                                  "course cartridge or a .tar.gz course export)")

    # -------------------------------------------------------------------------------------- opening
    def _count(self, n: int) -> None:
        if n > self.limits.max_entries:
            raise SourceReadError(f"{self.label} holds more than {self.limits.max_entries:,} entries; "
                                  "refusing it as a possible zip bomb")

    def _open_folder(self) -> None:
        root = self.path.resolve()
        for n, file in enumerate(p for p in root.rglob("*") if p.is_file()):
            self._count(n + 1)
            real = file.resolve()
            if not real.is_relative_to(root):
                raise SourceReadError(f"{self.label}: {file.relative_to(root)} links outside the folder; "
                                      "refusing it")
            self._members[file.relative_to(root).as_posix()] = real

    def _open_zip(self) -> None:
        try:
            self._zip = zipfile.ZipFile(self.path)
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, OSError) as exc:
            raise SourceReadError(f"{self.label} is not a readable zip archive: {exc}") from None
        self._count(len(infos))
        for info in infos:
            name = safe_member_name(info.filename, archive=self.label)
            if not info.is_dir():
                self._members[name] = info

    def _open_tar(self) -> None:
        total = 0
        try:
            with tarfile.open(self.path, mode="r:*") as tar:
                for n, member in enumerate(tar):
                    self._count(n + 1)
                    name = safe_member_name(member.name, archive=self.label)
                    if member.issym() or member.islnk():
                        target = posixpath.join(posixpath.dirname(name), member.linkname) if member.issym() \
                            else member.linkname
                        safe_member_name(target, archive=self.label)
                        continue  # links are not followed
                    if not member.isfile():
                        continue
                    total += member.size
                    if total > self.limits.max_total_bytes:
                        raise SourceReadError(f"{self.label} unpacks to more than "
                                              f"{self.limits.max_total_bytes:,} bytes; refusing it as a possible "
                                              "zip bomb")
                    if member.size > self.limits.max_member_bytes or name.split("/")[-2:-1] == ["static"]:
                        self._members[name] = member.size  # listed, never read
                        continue
                    handle = tar.extractfile(member)
                    self._members[name] = handle.read() if handle else b""
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise SourceReadError(f"{self.label} is not a readable tar archive: {exc}") from None

    # -------------------------------------------------------------------------------------- reading
    def names(self) -> list[str]:
        return list(self._members)

    def __contains__(self, name: str) -> bool:
        return name in self._members

    def read(self, name: str) -> bytes:
        """A member's bytes; SourceReadError when it is missing or larger than the limits allow."""
        member = self._members.get(name)
        if member is None:
            raise SourceReadError(f"{self.label}: no {name} in the archive")
        limit = self.limits.max_member_bytes
        if isinstance(member, int):
            raise SourceReadError(f"{self.label}: {name} is larger than {limit:,} bytes; refusing to read it")
        if isinstance(member, bytes):
            return member
        if isinstance(member, Path):
            if member.stat().st_size > limit:
                raise SourceReadError(f"{self.label}: {name} is larger than {limit:,} bytes; refusing to read it")
            return member.read_bytes()
        assert isinstance(member, zipfile.ZipInfo) and self._zip is not None
        if member.file_size > limit:
            raise SourceReadError(f"{self.label}: {name} unpacks to {member.file_size:,} bytes, more than "
                                  f"{limit:,}; refusing it as a possible zip bomb")
        chunks, size = [], 0
        try:
            with self._zip.open(member) as fh:  # the declared size may lie: count what comes out
                while chunk := fh.read(1 << 20):
                    size += len(chunk)
                    self._read_bytes += len(chunk)
                    if size > limit or self._read_bytes > self.limits.max_total_bytes:
                        raise SourceReadError(f"{self.label}: {name} unpacks to more than its limit "
                                              f"({limit:,} bytes); refusing it as a possible zip bomb")
                    chunks.append(chunk)
        except SourceReadError:
            raise
        except Exception as exc:  # BadZipFile, zlib.error, EOFError, an unsupported compression method
            raise SourceReadError(f"{self.label}: cannot unpack {name}: {exc}") from None
        return b"".join(chunks)

    def read_text(self, name: str) -> str:
        return self.read(name).decode("utf-8", errors="replace")

    def xml(self, name: str) -> Element:
        return parse_xml(self.read(name), where=f"{self.label}: {name}")

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _is_tar(path: Path) -> bool:
    try:
        return tarfile.is_tarfile(path)
    except (OSError, tarfile.TarError, EOFError):
        return False


def parse_xml(data: bytes, *, where: str) -> Element:
    """Parse XML without expanding entities (defusedxml); errors name the file, line and column."""
    try:
        return SafeET.fromstring(data)
    except defusedxml.DefusedXmlException as exc:
        raise SourceReadError(f"{where} declares XML entities ({type(exc).__name__}); refusing it: entity "
                              "expansion is how XML bombs and external-entity attacks work") from None
    except ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        raise SourceReadError(f"{where} is not well-formed XML (line {line}, column {column})") from None


def local(tag: object) -> str:
    """An element's tag without its namespace: '{http://...}item' -> 'item'."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def text_of(element: Element | None) -> str | None:
    if element is None or element.text is None:
        return None
    return element.text.strip() or None


_ATTR_LINE = re.compile(rb"""\b(?:identifier|url_name)\s*=\s*["']([^"']+)["']""")


def line_numbers(data: bytes) -> dict[str, int]:
    """identifier (or url_name) -> the line of its first occurrence, for lineage (one regex pass)."""
    lines: dict[str, int] = {}
    line, last = 1, 0
    for match in _ATTR_LINE.finditer(data):
        line += data.count(b"\n", last, match.start())
        last = match.start()
        lines.setdefault(match.group(1).decode("utf-8", errors="replace"), line)
    return lines


# ------------------------------------------------------------------- rows of a course export, as frames
# Shared by the cartridge and OLX readers: they build rows in our column names, with their origin.

ORIGIN = ("_file", "_sheet", "_row")
_VIDEO_HOSTS = re.compile(r"(?i)^https?://(?:www\.|m\.)?(?:youtube\.com|youtu\.be|vimeo\.com|player\.vimeo\.com)/")
_VIDEO_FILES = re.compile(r"(?i)\.(?:mp4|m4v|webm|mov|ogv)(?:[?#].*)?$")


def is_video_url(url: str | None) -> bool:
    return bool(url) and bool(_VIDEO_HOSTS.match(url) or _VIDEO_FILES.search(url))


def link_file_type(url: str) -> str:
    """A linked page's kind: the extension of its path (a .pdf), else html (a web page)."""
    match = re.search(r"\.([A-Za-z0-9]{1,5})$", urlsplit(url).path)
    return match.group(1).lower() if match and match.group(1).lower() not in ("php", "asp", "aspx", "jsp") else "html"


def clean_html(html: str | None) -> str | None:
    """HTML kept as HTML (each vendor's builder sanitises for itself), minus scripts, styles and event handlers."""
    if not html or not html.strip():
        return None
    cleaned = nh3.clean(html).strip()
    return cleaned or None


def html_body(html: str) -> str:
    """The inside of <body> when the page has one (a wiki page is a whole HTML document)."""
    match = re.search(r"(?is)<body[^>]*>(.*)</body>", html)
    return match.group(1) if match else html


def frames_from_rows(rows: dict[str, list[dict]], *, source: str, columns: dict[str, list[str]]) -> dict:
    """Per table, a frame of the given columns (None where a row has no value) and the origin columns."""
    frames = {}
    for table, records in rows.items():
        frame = pd.DataFrame.from_records(records, columns=[*columns[table], *ORIGIN])
        origin = frame[list(ORIGIN)]
        frame = frame[columns[table]].astype(object)
        frame = frame.where(frame.notna(), None)
        frame["_source"] = pd.Categorical([source] * len(frame))
        frame["_file"] = pd.Categorical(origin["_file"].astype(str).tolist())
        frame["_sheet"] = pd.Series(origin["_sheet"].tolist(), index=frame.index, dtype="str")
        frame["_row"] = pd.Series(origin["_row"].tolist(), index=frame.index, dtype="int64")
        frames[table] = frame
    return frames
