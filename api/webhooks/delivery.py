"""One delivery attempt: claim (short transaction), POST (no transaction open), record.

Idempotent per delivery id: the claim only succeeds for a pending, due delivery that no other
worker holds, so a redelivered or duplicated task message (acks_late, the sweep) does nothing
for a delivery already delivered, dead-lettered, scheduled for later or in flight. A worker
that dies mid-POST leaves a claim that expires; the sweep then sends it again, so receivers
must dedupe on `webhook-id` (at-least-once, as Standard Webhooks expects).
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from uuid import UUID

import httpx

from api.core import egress
from api.core.config import get_settings
from api.core.db import job_transaction
from api.webhooks import repository_sync as repo
from api.core import secretbox
from api.webhooks import secrets as endpoint_secrets
from api.webhooks import signing

log = logging.getLogger("renum.webhooks")
RESPONSE_LOG_BYTES = 1024  # of each receiver's response body kept in the delivery log


@dataclass(frozen=True)
class Outcome:
    status: str  # skipped | delivered | retry | dead
    retry_in_s: float | None = None


def backoff_s(attempts: int) -> float:
    """Delay after the `attempts`-th failed attempt: base, 2x base, 4x base... capped."""
    settings = get_settings()
    return min(settings.webhook_backoff_max_s, settings.webhook_backoff_s * 2 ** max(0, attempts - 1))


def body_of(row: dict) -> bytes:
    """The Standard Webhooks payload shape: type, timestamp, data (plus the event id)."""
    return json.dumps({"id": str(row["event_id"]), "type": row["type"],
                       "timestamp": row["event_created_at"].isoformat(), "data": row["payload"]},
                      separators=(",", ":"), ensure_ascii=False).encode()


def attempt(org_id: str, delivery_id: str) -> Outcome:
    settings = get_settings()
    # Held long enough for the POST and the write-back; expires if this worker dies.
    with job_transaction(org_id) as session:
        row = repo.claim(session.conn, UUID(delivery_id), settings.webhook_timeout_s + 30)
    if row is None:
        return Outcome("skipped")
    if not row["active"]:
        return _failed(org_id, row, None, "the endpoint is disabled", final=True)
    try:
        keys = endpoint_secrets.signing_secrets({**row, "id": row["endpoint_id"]})  # row["id"]: the delivery
    except secretbox.SecretUnavailable:
        return _failed(org_id, row, None, "the endpoint's secret cannot be decrypted (key ring changed)")
    body = body_of(row)
    headers = signing.headers(keys, str(row["event_id"]), int(time.time()), body)
    try:
        egress.check_url(row["url"])
    except egress.EgressBlocked as exc:
        return _failed(org_id, row, None, f"blocked: {exc}", final=True)
    started = time.monotonic()
    try:
        status_code, text = _post(row["url"], body, headers, settings.webhook_timeout_s)
    except httpx.TimeoutException:
        return _failed(org_id, row, None, f"timed out after {settings.webhook_timeout_s:g} s", started=started)
    except httpx.HTTPError as exc:
        return _failed(org_id, row, None, f"could not connect: {type(exc).__name__}", started=started)
    if 200 <= status_code < 300:
        with job_transaction(org_id) as session:
            repo.record_success(session.conn, row["id"], status_code)
            repo.record_attempt(session.conn, row, status_code, text, None, _ms(started))
        return Outcome("delivered")
    return _failed(org_id, row, status_code, f"HTTP {status_code}: {text[:200]}", response_body=text,
                   started=started)


def _post(url: str, body: bytes, headers: dict, timeout_s: float) -> tuple[int, str]:
    """Status and the first RESPONSE_LOG_BYTES of the answer (a huge response is never read whole)."""
    with httpx.Client(timeout=timeout_s, follow_redirects=False) as client:
        with client.stream("POST", url, content=body, headers=headers) as resp:
            data = b""
            for chunk in resp.iter_bytes():
                data += chunk
                if len(data) >= RESPONSE_LOG_BYTES:
                    break
            return resp.status_code, data[:RESPONSE_LOG_BYTES].decode("utf-8", "replace")


def _ms(started: float | None) -> int:
    return int((time.monotonic() - started) * 1000) if started else 0


def _failed(org_id: str, row: dict, status_code: int | None, error: str, *, final: bool = False,
            response_body: str | None = None, started: float | None = None) -> Outcome:
    dead = final or row["attempts"] >= get_settings().webhook_max_attempts
    retry_in = None if dead else backoff_s(row["attempts"])
    with job_transaction(org_id) as session:
        repo.record_failure(session.conn, row["id"], status_code, error, retry_in)
        repo.record_attempt(session.conn, row, status_code, response_body, error, _ms(started))
    if dead:
        log.warning("webhook delivery %s dead after %d attempts: %s", row["id"], row["attempts"], error)
        return Outcome("dead")
    return Outcome("retry", retry_in)
