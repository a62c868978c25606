"""What a plan would change, field by field: `course-pipeline plan --diff` and the dry run's `changes`.

Per course and vendor the plan sends (or takes down), the fields whose value would change, from the body
the ledger keeps of what landed (sync_state.payload_json) to the body this run would send:

- an update: one row per field that differs, as a path (`title`, `modules[0].title`, `tags`): a list of
  objects is compared item by item, any other list as one value; a field one side lacks is `(none)`.
  A course that landed before the ledger kept bodies has no old body: its top-level fields go from
  `(not recorded)` to their new value. An update whose body is the same as the landed one (sent again
  because its last outcome failed, is unknown or deactivated) is one row with no field and a note why.
- a create: one row with no field (the whole course is new); a deactivation: one row with no field.

Unchanged, rejected, held and orphaned courses send nothing and have no row. No Dagster here.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import orjson
from tabulate import tabulate

from .sync import Plan


class _Marker(str):
    """A placeholder for a value there is not, told apart from any text a body holds (by identity)."""


ABSENT = _Marker("(none)")  # the field is not in that body
NOT_RECORDED = _Marker("(not recorded)")  # landed before the ledger kept bodies
ARROW = "→"
WIDTH = 60  # a value is cut to this many characters in the tables
SHOWN = 50  # rows of the dry run's `changes` metadata


@dataclass(frozen=True)
class FieldChange:
    vendor: str
    source: str
    course_id: str
    action: str  # create | update | deactivate
    field: str | None  # None: the course as a whole (a create, a deactivation, a body sent again as it was)
    old: Any = None
    new: Any = None
    note: str | None = None

    def as_row(self) -> dict:
        """As JSON takes it: a placeholder as its text ("(none)", "(not recorded)")."""
        return {k: (str(v) if isinstance(v, _Marker) else v) for k, v in asdict(self).items()}

    def change(self, width: int = WIDTH) -> str:
        """`title: Old → New`, values cut to `width`; the note for a row without a field."""
        if self.field is None:
            return self.note or ""
        return f"{self.field}: {show(self.old, width)} {ARROW} {show(self.new, width)}"


def plan_changes(plan: Plan) -> list[FieldChange]:
    """Every change the plan would make, in the plan's order: sends, then deactivations."""
    rows: list[FieldChange] = []

    def row(course_id: str, action: str, field: str | None = None, old: Any = None, new: Any = None,
            note: str | None = None) -> FieldChange:
        return FieldChange(plan.vendor, plan.source, course_id, action, field, old, new, note)

    for send in plan.sends:
        cid, state = send.item.course_id, send.state
        if send.action == "create":
            rows.append(row(cid, "create", note="new course: every field"))
            continue
        new = send.item.body
        if state is None or not state.payload_json:
            rows += [row(cid, send.action, key, NOT_RECORDED, value) for key, value in new.items()]
            continue
        fields = body_changes(orjson.loads(state.payload_json), new)
        if not fields:
            rows.append(row(cid, send.action, note=f"no field changes: sent again (last outcome {state.status})"))
        rows += [row(cid, send.action, path, old, value) for path, old, value in fields]
    rows += [row(state.course_id, "deactivate", note="taken down: gone from the catalog")
             for state in plan.deactivations]
    return rows


def dry_run_changes(plan: Plan, course_ids) -> tuple[list[list[dict]], str]:
    """For the dry run's output: each course's change rows (as_row), in the order of `course_ids` (empty for
    a course that would not change), and the markdown of the first SHOWN rows."""
    changes = plan_changes(plan)
    by_course: dict[str, list[dict]] = {}
    for change in changes:
        by_course.setdefault(change.course_id, []).append(change.as_row())
    return [by_course.get(cid, []) for cid in course_ids], changes_markdown(changes)


def body_changes(old: Any, new: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """(path, old, new) for each value that differs; ABSENT for a field one side lacks."""
    if isinstance(old, dict) and isinstance(new, dict):
        pairs = [(f"{path}.{key}" if path else str(key), old.get(key, ABSENT), new.get(key, ABSENT))
                 for key in [*old, *(k for k in new if k not in old)]]
    elif _objects(old) and _objects(new):  # modules, lessons, ...: item by item
        pairs = [(f"{path}[{i}]", old[i] if i < len(old) else ABSENT, new[i] if i < len(new) else ABSENT)
                 for i in range(max(len(old), len(new)))]
    else:
        return [] if _same(old, new) else [(path, old, new)]
    out = []
    for where, before, after in pairs:
        if before is ABSENT or after is ABSENT:
            out.append((where, before, after))
        else:
            out += body_changes(before, after, where)
    return out


def _objects(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON: 1 and true, or 1 and 1.0, are not the same value to a vendor."""
    return orjson.dumps(a, option=orjson.OPT_SORT_KEYS) == orjson.dumps(b, option=orjson.OPT_SORT_KEYS)


def show(value: Any, width: int = WIDTH) -> str:
    """A value on one line: text as it is (JSON-quoted if it holds a line break or a control character),
    anything else as JSON; cut to `width` characters with an ellipsis."""
    if isinstance(value, _Marker):
        text = str(value)
    elif isinstance(value, str):
        text = value if value.isprintable() else json.dumps(value, ensure_ascii=False)
    else:
        text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= width else text[:width - 1] + "…"


def changes_table(changes: list[FieldChange], width: int = WIDTH, fmt: str = "simple") -> str:
    """vendor, course, action and `field: old → new`: four columns, values cut to `width`."""
    rows = [[c.vendor, c.course_id, c.action, c.change(width)] for c in changes]
    if fmt == "github":  # a | in a value would end the markdown cell
        rows = [[str(cell).replace("|", "\\|") for cell in row] for row in rows]
    return tabulate(rows, headers=["vendor", "course", "action", "change"], tablefmt=fmt, disable_numparse=True)


def changes_markdown(changes: list[FieldChange], limit: int = SHOWN, width: int = WIDTH) -> str:
    """The dry run's `changes` in the UI: the first `limit` rows."""
    if not changes:
        return "Nothing would change."
    more = len(changes) - limit
    return changes_table(changes[:limit], width, fmt="github") + (
        f"\n\n… and {more} more (`course-pipeline plan --diff` lists them all)" if more > 0 else "")
