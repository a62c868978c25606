"""A folder of 200 IMS Common Cartridges for the `cartridges` benchmark stage: copies of the real exports in
../shared/samples/lms-exports (when present) and of the project's own sample, each with its own identifier
and title so that every copy is a course of its own."""

from __future__ import annotations

import re
import sys
import zipfile
from pathlib import Path

import yaml

LMS_EXPORTS = Path(__file__).resolve().parents[1].parent / "shared" / "samples" / "lms-exports"


def _bases() -> list[dict[str, bytes]]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
    import make_lms_samples

    bases = [{name: content.encode() for name, content in make_lms_samples.cartridge_files().items()}]
    for file in sorted(LMS_EXPORTS.glob("*.imscc")) if LMS_EXPORTS.is_dir() else []:
        with zipfile.ZipFile(file) as archive:
            bases.append({info.filename: archive.read(info) for info in archive.infolist() if not info.is_dir()})
    return bases


def make_cartridges(folder: Path, count: int = 200) -> Path:
    """Write `count` cartridges and a sources.yaml reading them as one imscc source; returns its path."""
    carts = folder / "carts"
    carts.mkdir(parents=True, exist_ok=True)
    bases = _bases()
    for i in range(count):
        files = dict(bases[i % len(bases)])
        manifest = files["imsmanifest.xml"]
        manifest = re.sub(rb'(<manifest[^>]*?\sidentifier=")[^"]*', rb"\g<1>bench-%03d" % i, manifest, count=1)
        manifest = re.sub(rb"(<(?:\w+:)?title>\s*<(?:\w+:)?string[^>]*>)", rb"\g<1>#%03d " % i, manifest, count=1)
        files["imsmanifest.xml"] = manifest
        with zipfile.ZipFile(carts / f"course-{i:03d}.imscc", "w", zipfile.ZIP_DEFLATED) as archive:
            for name, content in files.items():
                archive.writestr(name, content)
    sources_file = folder / "sources.yaml"
    sources_file.write_text(yaml.safe_dump({"sources": [{
        "name": "cartridges", "format": "imscc", "path": "carts",
        "defaults": {"materials": {"url": "https://files.example.edu/"}}}]}))
    return sources_file
