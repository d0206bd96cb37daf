"""Keyset pagination over (created_at desc, id desc) with an opaque cursor."""
from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Annotated, Generic, TypeVar
from uuid import UUID

from fastapi import Depends, Query
from pydantic import BaseModel

from api.core.errors import Unprocessable

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


def _decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        ts, id_ = json.loads(base64.urlsafe_b64decode(padded))
        return datetime.fromisoformat(ts), UUID(id_)
    except (ValueError, TypeError):
        raise Unprocessable("cursor is invalid; use next_cursor from a previous page") from None


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
