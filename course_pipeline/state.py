"""The current state: what the ledger holds now for every course of a catalog at every vendor account,
whichever run last touched it. A run's outcomes say what that run did; a retry of failures, a partial
run or a retried run looks at a few items only, so the question "is anything still open" is answered
here, from sync_state (what each vendor holds of ours) and each item's newest outcome (why).

States, per (source, vendor, account, course):
- landed: the vendor holds the catalog's version (created, queued, updated or reconciled; vendor id kept).
- accepted: taken for processing, not confirmed (StackOne 202): sent again next run.
- not_updated: the vendor holds an older version and cannot take the change (HighLevel): a person acts.
- rejected: the vendor (or our payload rules, or validation) refused this version: fix the catalog.
- failed: not delivered; sent again next run.
- unknown: may or may not have landed (an answer lost, a run killed mid-send): resolved or re-sent.
- deactivated, orphaned: gone from the catalog; taken down, or left for a person where the vendor cannot.

A course that never landed and that the source's newest complete run no longer mentions (it left the
catalog) is not listed: nothing of it is anywhere. An unknown one is always listed.
"""

from __future__ import annotations

import pandas as pd

from .catalog.validation import ValidationResult
from .ledger import IN_FLIGHT, Ledger

STATES = ("landed", "accepted", "not_updated", "rejected", "failed", "unknown", "deactivated", "orphaned")
# What a check warns about: not delivered, or not known to be.
UNDELIVERED = ("failed", "unknown")
# A person has to act on these (or the catalog has to change).
NEEDS_ACTION = ("not_updated", "rejected", "failed", "unknown", "orphaned")
STATE_COLUMNS = ["source", "vendor", "account", "course_id", "state", "vendor_id", "error_code", "error_message",
                 "http_status", "last_action", "last_status", "run_id", "at", "source_file", "source_sheet",
                 "source_row"]
ALL_VENDORS = "(all)"  # the vendor of a validation reject: no vendor was sent it

_STATE = {"created": "landed", "queued": "landed", "updated": "landed", "reconciled": "landed",
           "accepted": "accepted", "deactivated": "deactivated", "orphaned": "orphaned", "rejected": "rejected",
           "failed": "failed", "unknown": "unknown", IN_FLIGHT: "unknown"}
_ORIGIN = ["source_file", "source_sheet", "source_row"]


def current_state(ledger: Ledger, *, source: str | None = None, vendor: str | None = None,
                  course_id: str | None = None, account: str | None = None) -> pd.DataFrame:
    """One row per item the ledger knows, in STATE_COLUMNS, sorted by source, vendor, account, course.
    `account`: that account of the vendor only (a sync step's own)."""
    states = ledger.state_frame(vendor=vendor, source=source, course_id=course_id, account=account)
    latest = ledger.latest_outcomes(vendor=vendor, source=source, course_id=course_id, account=account)
    full = ledger.last_full_runs(vendor=vendor, source=source, account=account)
    merged = states.merge(latest, on=["vendor", "account", "course_id"], how="outer", suffixes=("", "_out"),
                          indicator="presence")
    merged["source"] = merged["source"].fillna(merged["source_out"])
    merged = merged.merge(full.rename(columns={"started_at": "full_run_at"}), on=["vendor", "account", "source"],
                          how="left")
    rows = [_classify(row) for row in merged.itertuples(index=False)]
    frame = pd.DataFrame([r for r in rows if r is not None], columns=STATE_COLUMNS)
    return frame.sort_values(["source", "vendor", "account", "course_id"], ignore_index=True)


def _value(value):
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def _classify(row) -> dict | None:
    has_state = row.presence != "right_only"
    has_outcome = row.presence != "left_only"
    full_at, out_at, state_at = _value(row.full_run_at), _value(row.finished_at), _value(row.updated_at)
    # Items settled without a request (refused before, not updatable, a clash) get a new outcome row in
    # every complete run; one the newest complete run did not write no longer holds.
    outcome_holds = has_outcome and (full_at is None or out_at is None or out_at >= full_at)
    why = {"error_code": _value(row.error_code), "error_message": _value(row.error_message),
           "http_status": _value(row.http_status), "last_action": _value(row.action),
           "last_status": _value(row.status_out), "run_id": _value(row.run_id_out) or _value(row.run_id),
           "at": out_at, **{c: _value(getattr(row, c)) for c in _ORIGIN}}
    base = {"source": row.source, "vendor": row.vendor, "account": row.account, "course_id": row.course_id}
    if not has_state:  # settled without ever being sent (a payload reject, a clash)
        if not outcome_holds:
            return None
        return {**base, **why, "state": _STATE.get(row.status_out, row.status_out),
                "vendor_id": _value(row.vendor_id_out)}
    settled_since = (outcome_holds and why["last_action"] in ("none", "reject")
                     and why["last_status"] in ("rejected", "failed")
                     and (state_at is None or out_at is None or out_at >= state_at))
    if settled_since:
        state = "not_updated" if why["error_code"] == "UPDATE_NOT_SUPPORTED" else why["last_status"]
    else:
        state = _STATE.get(row.status, row.status)
        if state in ("landed", "accepted", "deactivated"):
            why.update(error_code=None, error_message=None, http_status=None)  # an old error, put right since
    never_landed = _value(row.payload_hash) is None
    mentioned = outcome_holds or full_at is None or (state_at is not None and state_at >= full_at)
    if never_landed and state in ("failed", "rejected") and not mentioned:
        return None  # never landed, and the source's newest complete run did not mention it: left the catalog
    return {**base, **why, "state": state, "vendor_id": _value(row.vendor_id)}


def validation_rejects(result: ValidationResult) -> pd.DataFrame:
    """The catalog's courses that validation rejected, one row each with all its reasons, in STATE_COLUMNS
    (vendor ALL_VENDORS: none was sent to any vendor)."""
    rejects = result.rejects
    courses = rejects[rejects["table"] == "courses"] if len(rejects) else rejects
    rows = []
    for (key, file, sheet, row), group in courses.groupby(["key", "file", "sheet", "row"], dropna=False, sort=False):
        reasons = "; ".join(f"{c}: {m}" if isinstance(c, str) and c else str(m)
                            for c, m in zip(group["column"], group["message"], strict=True))
        rows.append({"source": result.source, "vendor": ALL_VENDORS, "account": "", "state": "rejected",
                     "course_id": key if isinstance(key, str) and key else f"(row {row})",
                     "error_code": ",".join(dict.fromkeys(group["rule"].astype(str))), "error_message": reasons,
                     "last_action": "validate", "source_file": file, "source_sheet": sheet, "source_row": row})
    return pd.DataFrame(rows, columns=STATE_COLUMNS)


def summary(state: pd.DataFrame) -> pd.DataFrame:
    """Courses per state, one row per vendor account (columns in STATES order, zeros kept)."""
    if state.empty:
        return pd.DataFrame(columns=["vendor", "account", *STATES])
    table = state.pivot_table(index=["vendor", "account"], columns="state", values="course_id", aggfunc="count",
                              fill_value=0)
    return table.reindex(columns=list(STATES), fill_value=0).reset_index()
