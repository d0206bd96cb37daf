"""Short dependency aliases used by every router."""
from __future__ import annotations

from typing import Annotated, AsyncIterator
from uuid import UUID

from fastapi import Depends, Header, Request
from redis.asyncio import Redis

from api.api_keys import repository as api_keys_repository
from api.core import ratelimit
from api.core.auth import API_KEY_PREFIX, api_key_principal, hash_api_key, verify_jwt
from api.core.config import Settings, get_settings
from api.core.db import Session, anon_unit_of_work, unit_of_work
from api.core.errors import NotFound, Unauthorized, Unprocessable
from api.core.principal import Principal
from api.memberships import repository as memberships_repository

SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_redis(request: Request) -> Redis:
    return request.app.state.redis


RedisDep = Annotated[Redis, Depends(get_redis)]


def _bearer(authorization: str | None, x_api_key: str | None) -> str:
    if x_api_key:
        return x_api_key.strip()
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    raise Unauthorized()


async def get_principal(request: Request, settings: SettingsDep, redis: RedisDep,
                        authorization: Annotated[str | None, Header()] = None,
                        x_api_key: Annotated[str | None, Header()] = None) -> Principal:
    token = _bearer(authorization, x_api_key)
    if token.startswith(API_KEY_PREFIX):
        async with anon_unit_of_work(request.app.state.db) as conn:
            row = await api_keys_repository.resolve(conn, hash_api_key(token, settings.api_key_pepper))
        if row is None:
            raise Unauthorized("invalid, revoked or expired API key")
        principal = api_key_principal(row)
    else:
        principal = await verify_jwt(token, settings)
    await ratelimit.hit(redis, principal.rate_key, settings.rate_limit_per_minute)
    if principal.organization_id:
        await ratelimit.hit(redis, f"org:{principal.organization_id}", settings.org_rate_limit_per_minute)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


async def get_session(request: Request, principal: CurrentPrincipal) -> AsyncIterator[Session]:
    async with unit_of_work(request.app.state.db, principal) as session:
        yield session


# scope="function": the transaction commits before the response is sent, so a 2xx means
# the change is durable and after-commit work (task enqueueing) has run.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def get_org_id(session: SessionDep,
                     x_organization_id: Annotated[str | None, Header()] = None) -> UUID:
    """The organization a request acts for: the API key's, or the user's chosen one."""
    principal = session.principal
    requested = None
    if x_organization_id:
        try:
            requested = UUID(x_organization_id)
        except ValueError:
            raise Unprocessable("X-Organization-Id must be a UUID") from None
    if principal.organization_id:
        if requested and requested != principal.organization_id:
            raise NotFound("organization not found")
        return principal.organization_id
    org_ids = await memberships_repository.organizations_of(session.conn, principal.user_id, requested)
    if requested:
        if not org_ids:
            raise NotFound("organization not found")
        return requested
    if len(org_ids) == 1:
        return org_ids[0]
    if not org_ids:
        raise NotFound("you are not a member of any organization; create one with POST /v1/organizations")
    raise Unprocessable("you belong to several organizations: send the X-Organization-Id header")


OrgId = Annotated[UUID, Depends(get_org_id)]
