"""What every vendor client shares: the change it is asked to deliver, the word it gives back on each
item, and the one mapping from a transport failure to an item's outcome.

A vendor's client (vendors/<vendor>/client.py) subclasses VendorClient and implements `send` and
`deactivate`; the sync engine (course_pipeline/sync.py) decides what to send and records outcomes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..ledger import IN_FLIGHT
from .base import PayloadItem, PayloadSet
from .transport import HttpTransport, Limits, NotSent, TransportError

if TYPE_CHECKING:
    from ..ledger import State

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Change:
    """One item to deliver: its payload, create or update, and what the ledger holds of it (if anything)."""

    item: PayloadItem
    action: str  # create | update
    state: State | None
    answered: int = 0  # earlier sends of exactly this payload that got an answer (for dedupes_identical_bodies)


@dataclass
class Result:
    """A client's word on one item."""

    course_id: str
    status: str  # created | queued | updated | reconciled | deactivated | accepted | rejected | failed | unknown
    http_status: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    vendor_id: str | None = None
    attempts: int = 1

    @property
    def landed(self) -> bool:
        return self.status in LANDED

    @property
    def taken(self) -> bool:
        """The vendor holds it, or took it for processing (accepted): it is ours to update and take down."""
        return self.landed or self.status == ACCEPTED


# What a vendor holds after these (reconciled: a lost answer settled, the item found there afterwards),
# or has taken to create (queued: HighLevel's import): never sent again as new.
LANDED = ("created", "queued", "updated", "reconciled", "deactivated")
# Taken for processing, not confirmed landed (a StackOne 202 its lookup has not found yet): sent again.
ACCEPTED = "accepted"


def undelivered(course_ids: list[str], exc: TransportError, *, after: str | None = None,
                not_sent: str = "NOT_SENT") -> list[Result]:
    """The outcome of items whose request got no usable answer: `failed` (error code `not_sent`) when the
    vendor provably did not process it (NotSent), `unknown` when it may have (a lost answer). Whether an
    unknown item may be sent again is the client's `resend_is_safe`, decided by the sync engine.

    `after`: what an earlier request for these items already did at the vendor (a Kombo task accepted, a
    Thought Industries course found). Then they are `unknown` whatever this request's error: the vendor
    holds them, or is processing them, even if this one was never sent."""
    if isinstance(exc, NotSent) and after is None:
        return [Result(cid, "failed", exc.status, exc.code or not_sent, exc.message, attempts=exc.attempts)
                for cid in course_ids]
    message = exc.message if after is None else f"{after}, then: {exc.message}"
    return [Result(cid, "unknown", exc.status, "ANSWER_LOST", message, attempts=exc.attempts)
            for cid in course_ids]


def not_deactivated(course_id: str, exc: TransportError) -> Result:
    """A deactivation with no usable answer: `failed` (still to deactivate) when provably not processed,
    `unknown` when it may have been (the engine deactivates it again: a repeat is harmless)."""
    return undelivered([course_id], exc, not_sent="NOT_DEACTIVATED")[0]


def upserted(change: Change) -> str:
    """The status of an upsert that landed. After an earlier run lost the answer (the item `unknown` or
    left in flight), the vendor's answer cannot tell whether that send or this one put it there:
    `reconciled`, not `created`."""
    if change.state is not None and change.state.status in ("unknown", IN_FLIGHT):
        return "reconciled"
    return "created" if change.action == "create" else "updated"


class VendorClient:
    """What a vendor module implements for the load stage."""

    vendor: str
    limits: Limits = Limits()  # the vendor's documented pace (each client cites its source)
    batch_size: int = 1
    workers: int = 4
    can_deactivate: bool = True
    can_update: bool = True
    resend_is_safe: bool = True  # a lost answer may be re-sent without risk of a duplicate
    # The vendor answers a body it has seen with its earlier result: the engine fills Change.answered.
    dedupes_identical_bodies: bool = False
    create_outcome: str = "created"  # what a successful create is reported as (HighLevel: queued)
    halt: str | None = None  # set when the vendor can take nothing more this run (one line, for the run log)

    def __init__(self, transport: HttpTransport, account: str):
        self.transport = transport
        self.account = account
        self.notify: Callable[[str], None] = log.warning  # what the vendor wants said in the run's log

    def at_account(self, payloads: PayloadSet, states: dict[str, State], source: str) -> PayloadSet:
        """This source's payloads adjusted to what the account holds of other sources (the ledger's
        states); as they are, unless a vendor needs values unique across sources."""
        return payloads

    def request_body(self, bodies: list[dict]) -> dict:
        """The body of the one request `send` makes to create these items (a first send), as it goes out."""
        raise NotImplementedError

    def create_requests(self, bodies: list[dict]) -> list[dict]:
        """The bodies of the requests one `send` of this batch makes when every item is a create
        (`course-pipeline payloads`). A repeat's marks and an update's changed fields depend on the ledger
        and are not here."""
        return [self.request_body(bodies)] if bodies else []

    def send(self, batch: list[Change]) -> list[Result]:
        raise NotImplementedError

    def deactivate(self, states: list[State]) -> list[Result]:
        raise NotImplementedError

    def notices(self) -> list[str]:
        """What the run log should say once at the end of a sync (e.g. a quota that ran out)."""
        return []

    def close(self) -> None:
        self.transport.close()
