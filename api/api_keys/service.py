from uuid import UUID

from api.api_keys import repository
from api.api_keys.schemas import ApiKeyCreate
from api.core.auth import hash_api_key, new_api_key
from api.core.config import get_settings
from api.core.db import Session
from api.core.errors import Forbidden, NotFound
from api.core.pagination import PageParams


async def create(session: Session, org_id: UUID, data: ApiKeyCreate) -> dict:
    if session.principal.role == "member":
        raise Forbidden("only admins can create API keys")
    key, prefix = new_api_key()
    row = await repository.insert(session.conn, org_id, data.name, data.role, prefix,
                                  hash_api_key(key, get_settings().api_key_pepper), data.expires_at)
    return {**row, "key": key}


async def list_keys(session: Session, org_id: UUID, params: PageParams) -> list[dict]:
    return await repository.page(session.conn, org_id, params)


async def revoke(session: Session, key_id: UUID) -> None:
    if await repository.revoke(session.conn, key_id) is None:
        raise NotFound("API key not found")
