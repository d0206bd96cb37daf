"""Small query builders shared by the repository modules (the SQL itself stays there)."""
from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import sql
from psycopg.types.json import Jsonb

from api.core.pagination import PageParams


def adapt(value: Any) -> Any:
    return Jsonb(value) if isinstance(value, dict) else value


async def fetch_one(conn, query, params=()) -> dict | None:
    cur = await conn.execute(query, params)
    return await cur.fetchone()


async def fetch_all(conn, query, params=()) -> list[dict]:
    cur = await conn.execute(query, params)
    return await cur.fetchall()


async def insert(conn, table: str, values: dict) -> dict:
    cols = list(values)
    query = sql.SQL("insert into public.{} ({}) values ({}) returning *").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, cols)),
        sql.SQL(", ").join(sql.Placeholder() * len(cols)))
    return await fetch_one(conn, query, [adapt(values[c]) for c in cols])


async def update(conn, table: str, id_: UUID, values: dict) -> dict | None:
    """Update by id; RLS hides other tenants' rows, so a foreign id updates nothing (None)."""
    if not values:
        return await fetch_one(conn, sql.SQL("select * from public.{} where id = %s").format(
            sql.Identifier(table)), [id_])
    cols = list(values)
    query = sql.SQL("update public.{} set {} where id = %s returning *").format(
        sql.Identifier(table),
        sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in cols))
    return await fetch_one(conn, query, [*(adapt(values[c]) for c in cols), id_])


async def delete(conn, table: str, id_: UUID) -> bool:
    cur = await conn.execute(sql.SQL("delete from public.{} where id = %s").format(sql.Identifier(table)), [id_])
    return cur.rowcount > 0


async def get(conn, table: str, id_: UUID) -> dict | None:
    return await fetch_one(conn, sql.SQL("select * from public.{} where id = %s").format(sql.Identifier(table)), [id_])


async def page(conn, table: str, org_id: UUID, params: PageParams, *, where: sql.Composable | None = None,
               where_params: list | None = None, columns: sql.Composable = sql.SQL("*")) -> list[dict]:
    """One page of an organization's rows, newest first (limit+1 rows: see make_page); `columns`
    leaves out what the caller does not return (vectors)."""
    after = params.after
    query = sql.SQL(
        "select {} from public.{} where organization_id = %s {} {} "
        "order by created_at desc, id desc limit %s").format(
        columns, sql.Identifier(table),
        sql.SQL("and (created_at, id) < (%s, %s)") if after else sql.SQL(""),
        sql.SQL("and ") + where if where is not None else sql.SQL(""))
    args: list = [org_id, *(after or ()), *(where_params or []), params.limit + 1]
    return await fetch_all(conn, query, args)
