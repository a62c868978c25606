"""What every vendor client shares: the change it is asked to deliver, the word it gives back on each
item, and the one mapping from a transport failure to an item's outcome.

A vendor's client (vendors/<vendor>/client.py) subclasses VendorClient and implements `send` and
`deactivate`; the sync engine (course_pipeline/sync.py) decides what to send and records outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .base import PayloadItem
from .transport import HttpTransport, Limits, NotSent, TransportError

if TYPE_CHECKING:
    from ..ledger import State


@dataclass(frozen=True)
class Change:
    """One item to deliver: its payload, create or update, and what the ledger holds of it (if anything)."""

    item: PayloadItem
    action: str  # create | update
    state: State | None


@dataclass
class Result:
    """A client's word on one item."""

    course_id: str
    status: str  # created | updated | deactivated | failed | unknown
    http_status: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    vendor_id: str | None = None
    attempts: int = 1

    @property
    def landed(self) -> bool:
        return self.status in ("created", "updated", "deactivated")


def undelivered(course_ids: list[str], exc: TransportError) -> list[Result]:
    """The outcome of items whose request got no usable answer: `failed` when the vendor provably did not
    process it (NotSent), `unknown` when it may have (a lost answer). Whether an unknown item may be sent
    again is the client's `resend_is_safe`, decided by the sync engine."""
    if isinstance(exc, NotSent):
        return [Result(cid, "failed", exc.status, "NOT_SENT", exc.message, attempts=exc.attempts)
                for cid in course_ids]
    return [Result(cid, "unknown", exc.status, "ANSWER_LOST", exc.message, attempts=exc.attempts)
            for cid in course_ids]


class VendorClient:
    """What a vendor module implements for the load stage."""

    vendor: str
    limits: Limits = Limits()  # the vendor's documented pace (each client cites its source)
    batch_size: int = 1
    workers: int = 4
    keeps_payload: bool = False  # updates are diffs against the landed body (ledger keeps it)
    can_deactivate: bool = True
    can_update: bool = True
    resend_is_safe: bool = True  # a lost answer may be re-sent without risk of a duplicate

    def __init__(self, transport: HttpTransport, account: str):
        self.transport = transport
        self.account = account

    def send(self, batch: list[Change]) -> list[Result]:
        raise NotImplementedError

    def deactivate(self, states: list[State]) -> list[Result]:
        raise NotImplementedError

    def close(self) -> None:
        self.transport.close()
