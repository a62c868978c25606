"""StackOne's batch upsert: errors[i] is item i's outcome; deactivation is an upsert of `active: false`."""

from __future__ import annotations

from ...ledger import State
from ..client import Change, Result, VendorClient, undelivered, upserted
from ..transport import Limits, TransportError

# StackOne's newer SDKs no longer list the course batch endpoint; the path is configurable
# (STACKONE_BATCH_PATH) in case it moves.
BATCH_PATH = "/unified/lms/courses/batch"


class StackOneClient(VendorClient):
    """Batch upserts keyed by external_reference; errors[i] is item i's outcome. Deactivation is an
    upsert of `active: false`."""

    vendor = "stackone"
    limits = Limits(requests=10, window=1.0)  # default 10 requests / s (vendor-contracts.md §3)
    batch_size = 100
    workers = 4

    def __init__(self, transport, account, *, batch_path: str = BATCH_PATH):
        super().__init__(transport, account)
        self.batch_path = batch_path

    def send(self, batch: list[Change]) -> list[Result]:
        return self._batch([(s.item.course_id, s.item.body, upserted(s)) for s in batch])

    def deactivate(self, states: list[State]) -> list[Result]:
        return self._batch([(s.course_id, {"external_reference": s.course_id, "active": False}, "deactivated")
                            for s in states])

    def _batch(self, entries: list[tuple[str, dict, str]]) -> list[Result]:
        ids = [cid for cid, _, _ in entries]
        try:
            response = self.transport.request("POST", self.batch_path, idempotent=True,
                                              json={"items": [body for _, body, _ in entries]})
        except TransportError as exc:
            return undelivered(ids, exc)  # an upsert: an unknown item is safe to re-send
        if response.status_code != 202:
            try:
                message = str(response.json().get("message"))
            except ValueError:
                message = response.text[:300]
            return [Result(cid, "failed", response.status_code, str(response.status_code),
                           self.transport.redact(message), attempts=response.attempts) for cid in ids]
        errors = response.json().get("errors") or []
        out = []
        for i, (cid, _, landed_status) in enumerate(entries):
            problems = errors[i] if i < len(errors) else ["no answer for this item"]
            if problems:
                out.append(Result(cid, "failed", 202, "ITEM_REJECTED", "; ".join(map(str, problems)),
                                  attempts=response.attempts))
            else:
                out.append(Result(cid, landed_status, 202, attempts=response.attempts))
        return out
