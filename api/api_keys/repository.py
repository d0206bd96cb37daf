from datetime import datetime
from uuid import UUID

from api.core import sql
from api.core.pagination import PageParams


async def insert(conn, org_id: UUID, name: str, role: str, prefix: str, key_hash: str,
                 expires_at: datetime | None) -> dict:
    return await sql.insert(conn, "api_keys", {"organization_id": org_id, "name": name, "role": role,
                                               "prefix": prefix, "key_hash": key_hash, "expires_at": expires_at})


async def page(conn, org_id: UUID, params: PageParams) -> list[dict]:
    return await sql.page(conn, "api_keys", org_id, params)


async def revoke(conn, key_id: UUID) -> dict | None:
    return await sql.fetch_one(conn, "update public.api_keys set revoked_at = coalesce(revoked_at, now()) "
                                     "where id = %s returning *", [key_id])


async def resolve(conn, key_hash: str) -> dict | None:
    """Pre-auth: the key's principal fields, through the private resolver (no claims yet, so no
    table policy shows anything; see api/core/db.anon_unit_of_work)."""
    return await sql.fetch_one(conn, "select * from private.resolve_api_key(%s)", [key_hash])
