"""Pull a catalog feed (JSON or CSV over HTTP) into its knowledge base as a full snapshot.

Runs in the worker (workers.catalog.pull). The request is conditional (If-None-Match /
If-Modified-Since from the last pull), so an unchanged feed costs a 304 and no writes. A changed
feed is parsed, every record upserted and the records it no longer lists deleted, all in one
transaction: a failed pull changes nothing. Rows that are not valid records (no id or name,
nested attributes) are skipped and counted.
"""
from __future__ import annotations

import csv
import io
import json
import re
import time
from uuid import UUID

import httpx
from pydantic import ValidationError

from api.catalog import repository
from api.catalog.schemas import RecordIn
from api.core import egress
from api.core.errors import DomainError

MAX_FEED_BYTES = 50 * 1024 * 1024
TIMEOUT_S = 60.0
BATCH = 1000
DEFAULT_FIELDS = {"external_id": ("external_id", "id", "sku"), "name": ("name", "title"),
                  "description": ("description",)}
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


class FeedError(DomainError):
    """The feed cannot be fetched or parsed (blocked URL, unreachable, too big, bad content)."""

    status_code, code = 502, "catalog_feed_error"


def fetch(feed: dict, *, conditional: bool = True) -> tuple[int, bytes, dict]:
    """(status, body, headers); 304 has no body. Raises FeedError for a blocked, unreachable or too big feed."""
    try:
        egress.check_url(feed["url"])
    except egress.EgressBlocked as exc:
        raise FeedError(f"feed URL blocked: {exc}") from exc
    headers = {"Accept": "application/json, text/csv;q=0.9, */*;q=0.5", "User-Agent": "Renum-Catalog/1"}
    if conditional and feed.get("etag"):
        headers["If-None-Match"] = feed["etag"]
    if conditional and feed.get("last_modified"):
        headers["If-Modified-Since"] = feed["last_modified"]
    try:
        with httpx.Client(timeout=TIMEOUT_S, follow_redirects=False) as client:
            with client.stream("GET", feed["url"], headers=headers) as resp:
                data = bytearray()
                for chunk in resp.iter_bytes():
                    data += chunk
                    if len(data) > MAX_FEED_BYTES:
                        raise FeedError(f"the feed is larger than {MAX_FEED_BYTES // 1024 // 1024} MB")
                return resp.status_code, bytes(data), dict(resp.headers)
    except httpx.HTTPError as exc:
        raise FeedError(f"the feed could not be fetched: {type(exc).__name__}") from exc


def _coerce(value: str):
    text = value.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if _NUMBER.match(text):
        return float(text) if "." in text else int(text)
    return text


def parse(body: bytes, fmt: str) -> list[dict]:
    """Feed rows as dicts: JSON (a list, or an object with `records`/`items`/`products`) or CSV
    (header row; "true"/"false" and numbers become booleans and numbers)."""
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(body.decode("utf-8-sig", "replace")))
        return [{k.strip(): _coerce(v) for k, v in row.items() if k and v not in (None, "")} for row in reader]
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FeedError("the feed is not valid JSON") from exc
    if isinstance(data, dict):
        data = next((data[k] for k in ("records", "items", "products") if isinstance(data.get(k), list)), None)
    if not isinstance(data, list):
        raise FeedError("a JSON feed must be a list of records (or an object with `records`)")
    return [row for row in data if isinstance(row, dict)]


def to_records(rows: list[dict], mapping: dict) -> tuple[list[dict], int]:
    """Valid records (the last one wins for a repeated id) and how many rows were skipped."""
    fields = {target: ((mapping[target],) if mapping.get(target) else names)
              for target, names in DEFAULT_FIELDS.items()}
    records: dict[str, dict] = {}
    skipped = 0
    for row in rows:
        picked = {target: next((row[n] for n in names if row.get(n) not in (None, "")), None)
                  for target, names in fields.items()}
        used = {n for names in fields.values() for n in names}
        try:
            record = RecordIn(external_id=str(picked["external_id"] or ""), name=str(picked["name"] or ""),
                              description=str(picked["description"] or ""),
                              attributes={k: v for k, v in row.items() if k not in used})
        except ValidationError:
            skipped += 1
            continue
        records[record.external_id] = record.model_dump()
    return list(records.values()), skipped


def apply(conn, feed: dict, kb: dict, records: list[dict]) -> dict:
    """Upsert the snapshot and delete what it does not list, in the caller's transaction."""
    snapshot = f"feed:{feed['id']}:{time.time_ns()}"
    totals = {"inserted": 0, "updated": 0, "to_embed": 0}
    for start in range(0, len(records), BATCH):
        counts = repository.upsert_sync(conn, feed["organization_id"], kb, records[start:start + BATCH], snapshot)
        totals = {k: totals[k] + counts[k] for k in totals}
    totals["deleted"] = repository.complete_snapshot_sync(conn, UUID(str(kb["id"])), snapshot)
    return totals
