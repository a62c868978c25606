"""HighLevel's course importer: products in batches, and OAuth with a rotating refresh token.

An import cannot be repeated safely (HighLevel has no external id and no upsert), so a lost answer makes
the batch `unknown`, and a changed course cannot be updated. A 201 is `queued`: HighLevel copies the
course in the background and documents no way to confirm it (nor the 201's body, so no vendor id is
taken from it). A 422 refuses the whole request, so a refused batch is split until each bad product is
alone (rejected with HighLevel's reason) and the good ones land. When the daily quota
(X-RateLimit-Daily-Remaining, https://marketplace.gohighlevel.com/docs/other/rate-limits) runs out,
nothing more is sent: the rest fails as DAILY_QUOTA and goes in the next run."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import requests

from ..client import Change, Result, VendorClient, undelivered
from ..transport import Auth, HttpTransport, Limits, NotSent, Redactor, TransportError

IMPORT_PATH = "/courses/courses-exporter/public/import"
# The seed's version, still supported (docs /docs/Versioning); the sandbox also takes 2023-02-21 and v3.
API_VERSION = "2021-07-28"
DAILY_QUOTA = "DAILY_QUOTA"


def daily_quota_spent(headers) -> tuple[str, str] | None:
    """(code, message) once HighLevel says no request is left today; None otherwise."""
    try:
        remaining = int(headers.get("X-RateLimit-Daily-Remaining", ""))
    except ValueError:
        return None
    if remaining > 0:
        return None
    limit = headers.get("X-RateLimit-Limit-Daily") or "?"
    return DAILY_QUOTA, (f"highlevel's daily request limit for this location ({limit} a day) is used up: "
                         "not sent, left for the next run")


class HighLevelOAuth(Auth):
    """OAuth with a rotating refresh token: a 401 refreshes once (the transport then retries once) and
    the new refresh token is stored at once (file mode 0600), since the old one is spent."""

    def __init__(self, *, base_url: str, client_id: str, client_secret: str, refresh_token: str,
                 token_file: Path, redactor: Redactor, access_token: str | None = None):
        self.base_url, self.client_id, self.client_secret = base_url.rstrip("/"), client_id, client_secret
        self.token_file = token_file
        self.redact = redactor
        stored = self._load()
        self.refresh_token = stored.get("refresh_token") or refresh_token  # the stored one is newer
        self.access_token = access_token
        self._lock = threading.Lock()
        self._refused: NotSent | None = None
        for secret in (client_secret, refresh_token, self.refresh_token, access_token):
            redactor.add(secret)

    def apply(self, session, headers):
        # Single flight: the refresh token works once, so only one thread may spend it.
        with self._lock:
            if self._refused is not None:  # a refused refresh token stays refused: do not spend requests on it
                raise self._refused
            if self.access_token is None:
                self._refresh(session)
            headers["Authorization"] = f"Bearer {self.access_token}"

    def refresh(self, transport: HttpTransport, used: dict[str, str]) -> bool:
        with self._lock:
            if used.get("Authorization") != f"Bearer {self.access_token}":
                return True  # another thread refreshed meanwhile: just retry with the new token
            return self._refresh(transport.session)

    def _refresh(self, session) -> bool:
        """A failed refresh means the import was never sent: NotSent, so the item fails (it may be retried)."""
        try:
            answer = session.post(f"{self.base_url}/oauth/token", timeout=(5, 30), data={
                "client_id": self.client_id, "client_secret": self.client_secret, "grant_type": "refresh_token",
                "refresh_token": self.refresh_token, "user_type": "Location"})
        except requests.RequestException as exc:
            raise NotSent(f"highlevel token refresh failed: {self.redact(exc)}") from None
        if answer.status_code != 200:
            self._refused = NotSent(f"highlevel token refresh refused ({answer.status_code}): "
                                    f"{self.redact(answer.text[:300])}", status=answer.status_code)
            raise self._refused
        tokens = answer.json()
        self.access_token, self.refresh_token = tokens["access_token"], tokens["refresh_token"]
        self.redact.add(self.access_token)
        self.redact.add(self.refresh_token)
        self._store()
        return True

    def _load(self) -> dict:
        try:
            return json.loads(self.token_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def _store(self) -> None:
        self.token_file.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.token_file.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as fh:
            json.dump({"refresh_token": self.refresh_token}, fh)
        os.chmod(temporary, 0o600)
        os.replace(temporary, self.token_file)


def _error_text(response) -> tuple[str | None, str]:
    """HighLevel's {statusCode, message} (message may be a list), as (code, message)."""
    try:
        body = response.json()
    except ValueError:
        return None, response.text[:300]
    message = body.get("message") if isinstance(body, dict) else body
    if isinstance(message, list):
        message = "; ".join(map(str, message))
    return str(body.get("statusCode", response.status_code)) if isinstance(body, dict) else None, str(message)


class HighLevelClient(VendorClient):
    """Imports products in batches. An import cannot be repeated safely (there is no external id), so a
    lost answer makes the batch `unknown`, and a changed course cannot be updated."""

    vendor = "highlevel"
    limits = Limits(requests=100, window=10.0)  # burst 100 / 10 s per location (docs /docs/other/rate-limits)
    batch_size = 10
    can_deactivate = False
    can_update = False
    resend_is_safe = False
    create_outcome = "queued"

    def __init__(self, transport: HttpTransport, account: str):
        super().__init__(transport, account)
        transport.quota = daily_quota_spent
        self._left_for_tomorrow = 0
        self._lock = threading.Lock()

    def request_body(self, bodies: list[dict]) -> dict:
        return {"locationId": self.account, "products": bodies}

    def send(self, batch: list[Change]) -> list[Result]:
        ids = [s.item.course_id for s in batch]
        body = self.request_body([s.item.body for s in batch])
        try:
            response = self.transport.request("POST", IMPORT_PATH, json=body, idempotent=False)
        except TransportError as exc:
            if exc.code == DAILY_QUOTA:
                with self._lock:
                    self._left_for_tomorrow += len(batch)
            return undelivered(ids, exc)
        if response.status_code == 422 and len(batch) > 1:
            # Refused as a whole (validation runs before the import): none of it landed, so each half
            # may go again; halving isolates every bad product in about 2·log2(n) more requests.
            half = len(batch) // 2
            return self.send(batch[:half]) + self.send(batch[half:])
        if response.status_code != 201:
            code, message = _error_text(response)
            status = "rejected" if response.status_code == 422 else "failed"
            return [Result(cid, status, response.status_code, code, self.transport.redact(message),
                           attempts=response.attempts) for cid in ids]
        return [Result(cid, "queued", 201, attempts=response.attempts) for cid in ids]

    def notices(self) -> list[str]:
        if not self._left_for_tomorrow:
            return []
        return [f"highlevel: the daily request limit of location {self.account} is used up "
                f"(X-RateLimit-Daily-Remaining: 0): {self._left_for_tomorrow} items were not imported; they fail as "
                f"{DAILY_QUOTA} and go in the next run"]
