"""The sync engine, the same for every vendor: compare payloads with the ledger, decide per course
(create, update, unchanged, deactivate, orphaned, held), send through the vendor's client in worker
threads under its shared limiter, and settle every item in the ledger with its outcome.

Decisions, per course of this source:
- no state: create.
- state landed with the same hash: unchanged (nothing sent).
- hash differs: update (create again when nothing of ours ever landed).
- in flight (a run died mid-send) or unknown: re-sent where a repeat cannot duplicate (upserts,
  Thought Industries' unique slug); `reconciled` when it turns out to be there (found by a
  lookup, or an upsert's answer that cannot say which send put it there); held as `unknown` on
  HighLevel, never re-sent blindly.
- rejected by the vendor when last sent, and still the same content: rejected again, not sent.
- in the ledger but gone from the catalog (or archived where the vendor has no archived state):
  deactivated where the vendor can, `orphaned` where it cannot. Only what this project created is
  in the ledger, so nothing else is ever touched.
- the deactivation guard: a plan that would take down (deactivate or orphan) more of a source's courses
  at an account than DeactivationLimit allows, or any course of a source that read no courses, holds
  every one of them back until a run gives the go-ahead for that many (allowed=N).
"""

from __future__ import annotations

import threading
import time
import uuid
import weakref
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from .ledger import IN_FLIGHT, Ledger, OutcomeRow, Settlement, State, now
from .vendors.base import Origin, PayloadItem, PayloadSet
from .vendors.client import ACCEPTED, Change, Result, VendorClient

# What can happen to a course at a vendor in a run (the ledger's outcome status). reconciled: an answer
# was lost, and the item was found at the vendor afterwards (vendors/client.py LANDED). queued: the
# vendor took a create to carry out in the background, and no documented means confirms it (HighLevel's
# import); the ledger holds it as ours, like created, and never sends it again. accepted: taken for
# processing, not confirmed landed (vendors/client.py ACCEPTED): sent again next run (StackOne).
OUTCOMES = ("created", "queued", "updated", "reconciled", "accepted", "unchanged", "deactivated", "orphaned",
            "rejected", "failed", "unknown")


@dataclass
class Plan:
    vendor: str
    source: str
    sends: list[Change] = field(default_factory=list)
    unchanged: list[PayloadItem] = field(default_factory=list)
    deactivations: list[State] = field(default_factory=list)
    # Items settled without a request: (course, origin or None, status, code, message).
    settled: list[tuple[str, Origin | None, str, str | None, str]] = field(default_factory=list)
    origins: dict[str, Origin] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    held: list[State] = field(default_factory=list)  # take-downs the deactivation guard holds back
    verdict: str | None = None  # why they are held, and how to proceed
    create_outcome: str = "created"  # the client's word for a create that succeeded
    # A plan that looks at some of the source's courses only (a retry of failures): its run says nothing
    # about the others, so the current state (state.py) does not take it as the source's latest word.
    partial: bool = False

    def rows(self) -> list[dict]:
        """What the plan would do, item by item (the dry run's report)."""
        rows = [{"course_id": s.item.course_id, "action": s.action, "status": self.create_outcome
                 if s.action == "create" else "updated", "origin": s.item.origin} for s in self.sends]
        rows += [{"course_id": i.course_id, "action": "none", "status": "unchanged", "origin": i.origin}
                 for i in self.unchanged]
        rows += [{"course_id": s.course_id, "action": "deactivate", "status": "deactivated",
                  "origin": self.origins.get(s.course_id)} for s in self.deactivations]
        rows += [{"course_id": cid, "action": "none", "status": status, "error_code": code, "error_message": message,
                  "origin": origin} for cid, origin, status, code, message in self.settled]
        return rows

    def counts(self) -> dict[str, int]:
        """The outcome counts this plan would reach if every request succeeded (requests 0)."""
        counts = Counter({status: 0 for status in OUTCOMES})
        counts.update((self.create_outcome if s.action == "create" else "updated") for s in self.sends)
        counts["unchanged"] += len(self.unchanged)
        counts["deactivated"] += len(self.deactivations)
        counts.update(status for _, _, status, _, _ in self.settled)
        return {**{s: counts[s] for s in OUTCOMES}, "requests": 0, "throttled": 0}


def make_plan(payloads: PayloadSet, states: dict[str, State], *, source: str, catalog_ids: set[str],
              client: VendorClient) -> Plan:
    plan = Plan(vendor=payloads.vendor, source=source, create_outcome=client.create_outcome)
    payloads = client.at_account(payloads, states, source)  # e.g. slugs unique across sources
    sending = set()
    for item in payloads.items:
        plan.origins[item.course_id] = item.origin
        plan.hashes[item.course_id] = item.content_hash
        state = states.get(item.course_id)
        sending.add(item.course_id)
        if state is not None and state.source != source:
            plan.settled.append((item.course_id, item.origin, "failed", "COURSE_ID_CLASH",
                                 f"course id {item.course_id} is already synced from source {state.source!r}; "
                                 "course ids must be unique across sources sharing a vendor account"))
            continue
        action = _decide(item, state, client)
        if action == "unchanged":
            plan.unchanged.append(item)
        elif action == "held":
            plan.settled.append((item.course_id, item.origin, "unknown", "UNKNOWN_OUTCOME",
                                 "an earlier send may or may not have landed; not re-sent until it is resolved: "
                                 f"`course-pipeline resolve {payloads.vendor} {item.course_id} --landed` or "
                                 "`--not-landed`"))
        elif action == "refused_before":
            plan.settled.append((item.course_id, item.origin, "rejected", "REFUSED_BEFORE",
                                 f"{payloads.vendor} refused this version of the course in run {state.run_id} (its "
                                 "outcome says why); it is sent again when the course changes in the catalog"))
        elif action == "update_not_supported":
            plan.settled.append((item.course_id, item.origin, "rejected", "UPDATE_NOT_SUPPORTED",
                                 f"{payloads.vendor} cannot update a course it imported, and re-importing would "
                                 "make a duplicate: change it there by hand and run `course-pipeline resolve "
                                 f"{payloads.vendor} {item.course_id} --landed`, or delete it there and run "
                                 f"`course-pipeline resolve {payloads.vendor} {item.course_id} --not-landed`"))
        else:
            plan.sends.append(Change(item, action, state))
    retire: list[State] = []
    for reject in payloads.rejects:
        sending.add(reject.course_id)
        plan.origins[reject.course_id] = reject.origin
        state = states.get(reject.course_id)
        if reject.rule == "archived" and state is not None and state.source == source and state.holds_ours:
            retire.append(state)  # archived where the vendor has no archived state: take it down instead
            continue
        plan.settled.append((reject.course_id, reject.origin, "rejected", reject.rule, reject.message))
    for course_id, state in states.items():
        # Another source's course, one still in the catalog (a rejected row stays as it is), or one
        # that never landed: not ours to take down.
        if state.source != source or course_id in sending or course_id in catalog_ids or not state.holds_ours:
            continue
        if state.status in ("deactivated", "orphaned"):
            continue
        if state.status in (IN_FLIGHT, "unknown") and not client.resend_is_safe:
            continue
        retire.append(state)
    for state in retire:
        if state.status in ("deactivated", "orphaned"):
            continue
        if client.can_deactivate:
            plan.deactivations.append(state)
        else:
            plan.settled.append((state.course_id, plan.origins.get(state.course_id), "orphaned", "CANNOT_DEACTIVATE",
                                 f"no longer offered in the catalog, but {payloads.vendor} has no way to remove or "
                                 "hide a course: remove it there by hand"))
    return plan


@dataclass(frozen=True)
class DeactivationLimit:
    """How many of a source's courses at an account one run may take down without a go-ahead: a run
    trips the guard when it would take down more than `count` AND more than `percent` of them."""

    percent: float = 10.0
    count: int = 5

    def exceeded(self, taking_down: int, held_there: int) -> bool:
        return taking_down > self.count and taking_down > held_there * self.percent / 100


def guard_deactivations(plan: Plan, states: dict[str, State], *, account: str, limit: DeactivationLimit,
                        allowed: int = 0, catalog_empty: bool = False) -> Plan:
    """Hold back the plan's deactivations and orphanings when there are too many (see DeactivationLimit), or
    any at all from a source that read no courses, unless `allowed` covers them all. The rest of the plan
    (creates, updates) goes on."""
    orphans = [s for s in plan.settled if s[2] == "orphaned"]
    taking_down = len(plan.deactivations) + len(orphans)
    held_there = sum(1 for s in states.values() if s.source == plan.source and s.holds_ours
                     and s.status not in ("deactivated", "orphaned"))
    if taking_down == 0 or taking_down <= allowed:
        return plan
    if not catalog_empty and not limit.exceeded(taking_down, held_there):
        return plan
    why = ("the source read no courses" if catalog_empty else
           f"more than the limit ({limit.count} courses and {limit.percent:g}% of them)")
    go_ahead = (f"the go-ahead given allows {allowed}, fewer than {taking_down}; " if allowed else "")
    plan.held = list(plan.deactivations) + [states[cid] for cid, *_ in orphans if cid in states]
    plan.deactivations = []
    plan.settled = [s for s in plan.settled if s[2] != "orphaned"]
    plan.verdict = (f"{plan.vendor} would take down {taking_down} of the {held_there} courses of source "
                    f"'{plan.source}' at account {account}: {why}. Nothing was deactivated; {go_ahead}if the "
                    f"catalog is right, sync again with `--allow-deactivations {taking_down}` (in the UI: "
                    f"allow_deactivations: {taking_down} in the sync step's config); if not, fix the catalog.")
    return plan


def _decide(item: PayloadItem, state: State | None, client: VendorClient) -> str:
    if state is None:
        return "create"
    if state.status in (IN_FLIGHT, "unknown", ACCEPTED):
        if not client.resend_is_safe:
            return "held"
        return "update" if state.vendor_id or state.holds_ours else "create"
    if state.status == "rejected" and state.pending_hash == item.content_hash:
        return "refused_before"  # the vendor's answer to this very content, which a repeat would not change
    if state.holds_ours and state.payload_hash == item.content_hash and state.status not in ("failed", "deactivated"):
        return "unchanged"
    if not state.holds_ours:
        return "create"
    if not client.can_update:
        return "unchanged" if state.payload_hash == item.content_hash else "update_not_supported"
    return "update"


# ----------------------------------------------------------------------------------------- running

@dataclass
class SyncReport:
    vendor: str
    account: str
    run_id: str
    outcomes: list[OutcomeRow]
    requests: int = 0
    throttled: int = 0
    retries: int = 0
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        counts = Counter({status: 0 for status in OUTCOMES})
        counts.update(o.status for o in self.outcomes)
        return {**{s: counts[s] for s in OUTCOMES}, "requests": self.requests, "throttled": self.throttled}


# Set by the command line on SIGTERM/SIGINT (request_stop): every sync sends no further batch, the
# transport makes no further attempt, and what is in flight is settled or left in flight for the next
# run to reconcile, so the ledger stays true.
STOP = threading.Event()
_active: weakref.WeakSet[Sync] = weakref.WeakSet()


def request_stop() -> None:
    STOP.set()
    for sync in list(_active):
        sync.stop.set()


class SyncStopped(Exception):
    """A sync stopped on request before it had sent everything; the rest goes in the next run."""


class Sync:
    """Runs one plan: sends, deactivations and the settled rest, recording everything."""

    WINDOW_SAVE_SECONDS = 1.0  # how often the limiter's window is written back for the next holder

    def __init__(self, plan: Plan, client: VendorClient, ledger: Ledger, run_id: str | None = None,
                 progress=None):
        """progress(done, total): told (0, total) before the first request, then after each settled batch."""
        self.plan, self.client, self.ledger = plan, client, ledger
        self.run_id = run_id or uuid.uuid4().hex
        self.progress = progress or (lambda done, total: None)
        self._outcomes: list[OutcomeRow] = []
        self._lock = threading.Lock()
        self._done = 0
        self._total = len(plan.sends) + len(plan.deactivations)
        self._window_saved = 0.0
        self._window_lock = threading.Lock()
        self.stop = threading.Event()
        if STOP.is_set():
            self.stop.set()
        _active.add(self)

    def run(self) -> SyncReport:
        started, stamp = time.monotonic(), now()
        transport = self.client.transport
        transport.stop = transport.limiter.stop = self.stop
        transport.limiter.preload(self.ledger.load_window(self.client.vendor, self.client.account))
        self._record_unsent()
        sends = self.plan.sends
        if self.client.dedupes_identical_bodies and sends:
            answered = self.ledger.answered_sends(self.client.vendor, self.client.account,
                                                  [s.item.course_id for s in sends])
            sends = [replace(s, answered=answered.get((s.item.course_id, s.item.content_hash), 0)) for s in sends]
        batches = [sends[i:i + self.client.batch_size] for i in range(0, len(sends), self.client.batch_size)]
        deactivations = [self.plan.deactivations[i:i + self.client.batch_size]
                         for i in range(0, len(self.plan.deactivations), self.client.batch_size)]
        if self._total:
            self.progress(0, self._total)  # the start, before any request: a display's rate and time left begin here
        try:
            with ThreadPoolExecutor(max_workers=max(1, self.client.workers),
                                    thread_name_prefix=f"sync-{self.client.vendor}") as pool:
                futures = [pool.submit(self._send, batch) for batch in batches]
                futures += [pool.submit(self._deactivate, batch) for batch in deactivations]
                try:
                    for future in futures:
                        future.result()
                except BaseException:  # the step was interrupted: send nothing more, settle what is out
                    self.stop.set()
                    raise
        finally:
            if self.plan.sends or self.plan.deactivations:
                self._save_window(force=True)
        stats = transport.stats
        report = SyncReport(self.client.vendor, self.client.account, self.run_id, self._outcomes,
                            requests=stats.requests, throttled=stats.throttled, retries=stats.retries,
                            seconds=time.monotonic() - started)
        self.ledger.record_run(self.run_id, self.client.vendor, self.client.account, self.plan.source,
                               {**report.counts(), "held_deactivations": len(self.plan.held),
                                "stopped": self.stop.is_set(), "partial": self.plan.partial}, stamp)
        if self.stop.is_set() and self._done < self._total:
            raise SyncStopped(f"{self.client.vendor}: stopped on request after {self._done} of {self._total} items; "
                              "the next sync sends the rest")
        return report

    def _save_window(self, force: bool = False) -> None:
        """Write the limiter's recent sends back, so the next sync of this account (another process, another
        Dagster home) starts from the same window."""
        with self._window_lock:
            if not force and time.monotonic() - self._window_saved < self.WINDOW_SAVE_SECONDS:
                return
            self._window_saved = time.monotonic()
            self.ledger.save_window(self.client.vendor, self.client.account,
                                    self.client.transport.limiter.recent_sends())

    def _record_unsent(self) -> None:
        stamp = now()
        unchanged = [self._row(item.course_id, item.origin, "none", "unchanged", payload_hash=item.content_hash,
                               started=stamp) for item in self.plan.unchanged]
        rows = [self._row(cid, origin, "reject" if status == "rejected" else "none", status, code=code,
                          message=message, payload_hash=self.plan.hashes.get(cid), started=stamp)
                for cid, origin, status, code, message in self.plan.settled]
        # Unchanged items are counted in the run's summary (sync_runs), not written one row each per run:
        # the outcome history grows by what changed or is still open.
        self.ledger.record(rows)
        # A run that died left these in flight: say what they are now.
        orphaned = [cid for cid, _, status, _, _ in self.plan.settled if status == "orphaned"]
        if orphaned:
            self.ledger.settle(self.client.vendor, self.client.account, self.run_id,
                               [Settlement(cid, "orphaned") for cid in orphaned], [])
        self.ledger.hold_unknown(self.client.vendor, self.client.account,
                                 [cid for cid, _, status, _, _ in self.plan.settled if status == "unknown"])
        with self._lock:
            self._outcomes.extend(unchanged + rows)

    def _send(self, batch: list[Change]) -> None:
        if self.stop.is_set():
            return
        started = now()
        self.ledger.begin(self.client.vendor, self.client.account, self.plan.source, self.run_id,
                          [(s.item.course_id, s.item.content_hash) for s in batch])
        try:
            results = self.client.send(batch)
        except Exception as exc:  # a client bug must not leave items in flight forever
            # It may have come after the request went out: unknown (re-sent where that is safe).
            results = [Result(s.item.course_id, "unknown", error_code="CLIENT_ERROR",
                              error_message=self.client.transport.redact(exc)) for s in batch]
        by_id = {s.item.course_id: s for s in batch}
        settlements, rows = [], []
        for result in results:
            send = by_id[result.course_id]
            # The landed body, for every vendor: what `plan --diff` compares with (and what StackOne's
            # deactivation re-sends and Thought Industries' update compares with).
            keep = send.item.body_json if result.taken else None
            settlements.append(Settlement(result.course_id, result.status, vendor_id=result.vendor_id,
                                          landed_hash=send.item.content_hash if result.taken else None,
                                          payload_json=keep))
            rows.append(self._row(result.course_id, send.item.origin, send.action, result.status,
                                  result=result, payload_hash=send.item.content_hash, started=started))
        self._finish(settlements, rows)

    def _deactivate(self, states: list[State]) -> None:
        if self.stop.is_set():
            return
        started = now()
        self.ledger.begin(self.client.vendor, self.client.account, self.plan.source, self.run_id,
                          [(s.course_id, s.payload_hash) for s in states])
        by_id = {s.course_id: s for s in states}
        try:
            results = self.client.deactivate(states)
        except Exception as exc:
            results = [Result(s.course_id, "unknown", error_code="CLIENT_ERROR",
                              error_message=self.client.transport.redact(exc)) for s in states]
        settlements, rows = [], []
        for result in results:
            state = by_id[result.course_id]
            # A failed deactivation leaves the course as it was: still ours, still to deactivate; an unknown
            # one (a lost answer) is deactivated again too, as a repeat is harmless.
            status = result.status if result.taken or result.status == "unknown" else "failed"
            settlements.append(Settlement(result.course_id, status, vendor_id=result.vendor_id,
                                          landed_hash=state.payload_hash))
            rows.append(self._row(result.course_id, None, "deactivate", status, result=result,
                                  payload_hash=state.payload_hash, started=started))
        self._finish(settlements, rows)

    def _finish(self, settlements: list[Settlement], rows: list[OutcomeRow]) -> None:
        self.ledger.settle(self.client.vendor, self.client.account, self.run_id, settlements, rows)
        with self._lock:
            self._outcomes.extend(rows)
            self._done += len(rows)
            done = self._done
        self._save_window()
        self.progress(done, self._total)

    def _redact(self, text: str | None) -> str | None:
        return None if text is None else self.client.transport.redact(text)

    def _row(self, course_id: str, origin: Origin | None, action: str, status: str, *, result: Result | None = None,
             code: str | None = None, message: str | None = None, payload_hash: str | None = None,
             started=None) -> OutcomeRow:
        origin = origin or self.plan.origins.get(course_id)
        return OutcomeRow(
            run_id=self.run_id, vendor=self.client.vendor, account=self.client.account, course_id=course_id,
            source=self.plan.source, action=action, status=status,
            http_status=result.http_status if result else None,
            # The one redaction step of every outcome a vendor's answer shaped (an echoed header, a token in
            # an error), before it reaches the ledger, Dagster metadata or a log.
            error_code=(self._redact(result.error_code) if result else code),
            error_message=(self._redact(result.error_message) if result else message),
            attempts=result.attempts if result else 0, vendor_id=result.vendor_id if result else None,
            payload_hash=payload_hash, source_file=origin.file if origin else None,
            source_sheet=origin.sheet if origin else None, source_row=origin.row if origin else None,
            started_at=started, finished_at=now())


def failed_only(plan: Plan) -> Plan:
    """The part of a plan that retries what last failed (or is unknown where a repeat is safe); nothing
    else is looked at, so nothing else gets an outcome."""
    retry = [s for s in plan.sends if s.state is not None and s.state.status in ("failed", "unknown", IN_FLIGHT,
                                                                                 ACCEPTED)]
    return Plan(vendor=plan.vendor, source=plan.source, sends=retry, origins=plan.origins, hashes=plan.hashes,
                create_outcome=plan.create_outcome, partial=True)
