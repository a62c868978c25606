"""The operator's bulk path for items whose outcome nobody knows (HighLevel imports whose answer was
lost, items a dead run left in flight): a CSV listing them to be filled in (`course-pipeline
unknowns`), and that CSV read back as the operator's word on each (`course-pipeline resolve VENDOR
--from-file`).

HighLevel documents no endpoint that lists a location's courses (`GET /products/?locationId=` lists
payment products, not confirmed to include imported courses), so nothing settles them automatically.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from .catalog.errors import ConfigError
from .ledger import Resolution, Unknown

COLUMNS = ["vendor", "account", "source", "course_id", "title", "status", "sent_at", "run_id", "landed",
           "vendor_id"]
LANDED_WORDS = {"yes": True, "true": True, "landed": True, "no": False, "false": False, "not-landed": False}


def write_csv(items: Iterable[Unknown], titles: Mapping[tuple[str, str], str], out: TextIO) -> int:
    """One row per item, `landed` left for the operator (titles by (source, course_id); blank when the
    course is gone from its catalog). Returns the number of rows."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    count = 0
    for item in items:
        writer.writerow([item.vendor, item.account, item.source, item.course_id,
                         titles.get((item.source, item.course_id), ""), item.status,
                         item.sent_at.isoformat(timespec="seconds") if item.sent_at else "", item.run_id or "",
                         "", item.vendor_id or ""])
        count += 1
    return count


@dataclass
class FileResolutions:
    """What a filled-in CSV says for one vendor: the resolutions, and the rows it passes over."""

    resolutions: list[Resolution] = field(default_factory=list)
    blank: int = 0  # `landed` left empty: the item stays unknown
    other_vendors: int = 0


def read_csv(path: str | Path, *, vendor: str, account: str) -> FileResolutions:
    """The rows of `path` for this vendor. Any bad row (an unknown `landed` word, another account, a
    course twice) is a ConfigError naming the file and the row, so nothing is settled from a file with
    a mistake in it. Rows are numbered as a spreadsheet shows them (the header is row 1)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet may save a BOM
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it: {getattr(exc, 'strerror', None) or exc}") from None
    header = text.partition("\n")[0]
    delimiter = max(",;\t", key=header.count)  # a spreadsheet in some locales saves with ';'
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    missing = [c for c in ("course_id", "landed") if c not in (reader.fieldnames or [])]
    if missing:
        raise ConfigError(f"{path}: its header has no {' and no '.join(missing)} column: give it the file "
                          "`course-pipeline unknowns` wrote")
    found = FileResolutions()
    seen: dict[str, int] = {}
    for number, row in enumerate(reader, start=2):
        cell = {key: (value or "").strip() for key, value in row.items() if key}
        if cell.get("vendor") and cell["vendor"] != vendor:
            found.other_vendors += 1
            continue
        where = f"{path} row {number}"
        if not cell["course_id"]:
            raise ConfigError(f"{where}: course_id is empty")
        if cell.get("account") and cell["account"] != account:
            raise ConfigError(f"{where}: account {cell['account']!r} is not the {vendor} account synced now "
                              f"({account!r}); this file was listed for another account")
        if not cell["landed"]:
            found.blank += 1
            continue
        landed = LANDED_WORDS.get(cell["landed"].lower())
        if landed is None:
            raise ConfigError(f"{where} ({cell['course_id']}): landed must be yes or no (or true/false, "
                              f"landed/not-landed), not {cell['landed'][:40]!r}")
        if cell["course_id"] in seen:
            raise ConfigError(f"{where}: {cell['course_id']} is settled on row {seen[cell['course_id']]} already")
        seen[cell["course_id"]] = number
        found.resolutions.append(Resolution(cell["course_id"], landed, vendor_id=cell.get("vendor_id") or None,
                                            run_id=cell.get("run_id") or None))
    return found
