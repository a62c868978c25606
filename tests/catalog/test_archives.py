"""Hostile archives end in a clear error, quickly: zip slip, XML entity bombs, zip bombs, too many entries."""

from __future__ import annotations

import io
import tarfile
import time
import zipfile

import pytest
import yaml

from course_pipeline.catalog import archives
from course_pipeline.catalog.archives import Archive, Limits
from course_pipeline.catalog.errors import SourceReadError
from course_pipeline.cli import main

BILLION_LAUGHS = ('<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
                  + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
                            for i in range(1, 10))
                  + ']>\n<manifest identifier="x">&lol9;</manifest>')
EXTERNAL_ENTITY = ('<?xml version="1.0"?>\n<!DOCTYPE m [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
                   '<manifest identifier="x">&xxe;</manifest>')


def validate(tmp_path, capsys, name: str, fmt: str = "imscc") -> str:
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump({"sources": [{"name": "x", "format": fmt, "path": name}]}))
    started = time.monotonic()
    assert main(["validate", str(tmp_path / "sources.yaml")]) == 2
    assert time.monotonic() - started < 5
    out = capsys.readouterr().out
    assert "Traceback" not in out and name in out
    return out


@pytest.mark.parametrize("member", ["../../evil.xml", "/etc/evil.xml", "a/../../evil.xml", "C:/evil.xml"])
def test_zip_slip_is_refused(tmp_path, capsys, member):
    with zipfile.ZipFile(tmp_path / "slip.imscc", "w") as archive:
        archive.writestr("imsmanifest.xml", '<manifest identifier="x"/>')
        archive.writestr(member, "pwned")
    assert "zip slip" in validate(tmp_path, capsys, "slip.imscc")
    assert not (tmp_path.parent / "evil.xml").exists()


def test_tar_slip_and_links_out_are_refused(tmp_path, capsys):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        link = tarfile.TarInfo("course/static/escape")
        link.type, link.linkname = tarfile.SYMTYPE, "../../../../etc/passwd"
        tar.addfile(link)
    (tmp_path / "course.tar.gz").write_bytes(buffer.getvalue())
    assert "zip slip" in validate(tmp_path, capsys, "course.tar.gz", fmt="olx")


@pytest.mark.parametrize("document, kind", [(BILLION_LAUGHS, "EntitiesForbidden"),
                                            (EXTERNAL_ENTITY, "EntitiesForbidden")])
def test_xml_entity_bombs_are_refused(tmp_path, capsys, document, kind):
    with zipfile.ZipFile(tmp_path / "bomb.imscc", "w") as archive:
        archive.writestr("imsmanifest.xml", document)
    out = validate(tmp_path, capsys, "bomb.imscc")
    assert "declares XML entities" in out and kind in out and "imsmanifest.xml" in out


def test_entity_bomb_in_olx_is_refused(tmp_path, capsys):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = BILLION_LAUGHS.replace("manifest", "course").encode()
        info = tarfile.TarInfo("course/course.xml")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    (tmp_path / "course.tar.gz").write_bytes(buffer.getvalue())
    assert "declares XML entities" in validate(tmp_path, capsys, "course.tar.gz", fmt="olx")


def test_zip_bomb_is_refused_before_it_is_unpacked(tmp_path, capsys):
    with zipfile.ZipFile(tmp_path / "bomb.imscc", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("imsmanifest.xml", b" " * (archives.LIMITS.max_member_bytes + 1))  # ~64 KB compressed
    assert (tmp_path / "bomb.imscc").stat().st_size < 1 << 20
    assert "possible zip bomb" in validate(tmp_path, capsys, "bomb.imscc")


def test_a_lying_size_header_unpacks_no_more_than_it_declares(tmp_path):
    with zipfile.ZipFile(tmp_path / "liar.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("imsmanifest.xml", b"x" * 5000)
    with Archive(tmp_path / "liar.zip", Limits(max_member_bytes=10_000)) as archive:
        archive._members["imsmanifest.xml"].file_size = 10  # what a crafted header would claim
        # zipfile unpacks no more than the header declares; the lie then shows as a bad checksum
        with pytest.raises(SourceReadError, match="cannot unpack imsmanifest.xml: Bad CRC-32"):
            archive.read("imsmanifest.xml")


def test_gzip_bomb_is_refused_by_total_size(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(archives, "LIMITS", Limits(max_total_bytes=1 << 20))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = b"\0" * (2 << 20)
        info = tarfile.TarInfo("course/static/zeros.bin")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    (tmp_path / "course.tar.gz").write_bytes(buffer.getvalue())
    assert "possible zip bomb" in validate(tmp_path, capsys, "course.tar.gz", fmt="olx")


def test_too_many_entries_are_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(archives, "LIMITS", Limits(max_entries=100))
    with zipfile.ZipFile(tmp_path / "many.imscc", "w") as archive:
        for i in range(101):
            archive.writestr(f"f{i}.txt", "")
    assert "more than 100 entries" in validate(tmp_path, capsys, "many.imscc")
