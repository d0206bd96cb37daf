"""Keyset pagination over (created_at desc, id desc) with an opaque cursor."""
from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from typing import Annotated, Generic, TypeVar
from uuid import UUID

from fastapi import Depends, Query
from pydantic import BaseModel

from api.core.errors import DomainError

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    data: list[T]
    next_cursor: str | None = None


class PageParams(BaseModel):
    limit: int
    after: tuple[datetime, UUID] | None


def encode_cursor(created_at: datetime, id_: UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(id_)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class InvalidCursor(DomainError):
    status_code, code = 400, "invalid_cursor"


MAX_CURSOR_CHARS = 200  # ours are ~90; a longer one was not made here


def _decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    """Only the exact shape encode_cursor makes is accepted: a client can send anything here
    (a list with an integer id, JSON nested 10k deep, a time zone overflow), and every one of
    them must be a 400, not an exception from deep inside a parser."""
    try:
        if len(cursor) > MAX_CURSOR_CHARS:
            raise ValueError
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
            raise ValueError
        ts = datetime.fromisoformat(value[0])
        if ts.tzinfo is None:
            raise ValueError
        ts.astimezone(timezone.utc)  # offsets that overflow at the edges of the calendar
        return ts, UUID(value[1])
    except (ValueError, TypeError, OverflowError, RecursionError, UnicodeError):
        raise InvalidCursor("cursor is invalid; use next_cursor from a previous page") from None


def page_params(limit: Annotated[int, Query(ge=1, le=100, description="page size")] = 50,
                cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None
                ) -> PageParams:
    return PageParams(limit=limit, after=_decode_cursor(cursor) if cursor else None)


PageDep = Annotated[PageParams, Depends(page_params)]


def make_page(rows: list[dict], params: PageParams, model: type[T]) -> Page[T]:
    """`rows` were fetched with limit+1 so we know whether another page exists."""
    more = len(rows) > params.limit
    rows = rows[: params.limit]
    cursor = encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if more else None
    return Page[model](data=[model.model_validate(r) for r in rows], next_cursor=cursor)
