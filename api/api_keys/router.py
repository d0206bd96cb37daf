from uuid import UUID

from fastapi import APIRouter, status

from api.api_keys import service
from api.api_keys.schemas import ApiKey, ApiKeyCreate, ApiKeyWithSecret
from api.core.deps import OrgId, SessionDep
from api.core.pagination import Page, PageDep, make_page

router = APIRouter(prefix="/v1/api-keys", tags=["api keys"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ApiKeyWithSecret)
async def create_api_key(body: ApiKeyCreate, session: SessionDep, org_id: OrgId):
    """Create an organization API key (admins); the secret is returned once."""
    return await service.create(session, org_id, body)


@router.get("", response_model=Page[ApiKey])
async def list_api_keys(session: SessionDep, org_id: OrgId, page: PageDep):
    """List the organization's API keys (admins; secrets are never returned)."""
    return make_page(await service.list_keys(session, org_id, page), page, ApiKey)


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_api_key(key_id: UUID, session: SessionDep):
    """Revoke an API key immediately."""
    await service.revoke(session, key_id)
