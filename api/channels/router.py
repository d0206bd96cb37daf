from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request, status

from api.channels import service
from api.channels.schemas import Inbound, Integration, IntegrationCreate, IntegrationCreated, IntegrationUpdate
from api.core import ratelimit
from api.core.config import get_settings
from api.core.deps import OrgId, SessionDep
from api.core.errors import PayloadTooLarge
from api.core.pagination import Page, PageDep, make_page

router = APIRouter(tags=["channels"])
MAX_INBOUND_BYTES = 1024 * 1024


@router.post("/v1/channel-integrations", status_code=status.HTTP_201_CREATED, response_model=IntegrationCreated)
async def create_integration(body: IntegrationCreate, session: SessionDep, org_id: OrgId):
    """Connect a Chatwoot inbox's agent bot to an agent; the response shows the inbound token, once (admins)."""
    return await service.create(session, org_id, body)


@router.get("/v1/channel-integrations", response_model=Page[Integration])
async def list_integrations(session: SessionDep, org_id: OrgId, page: PageDep):
    """List the organization's channel integrations (admins)."""
    return make_page(await service.list_integrations(session, org_id, page), page, Integration)


@router.get("/v1/channel-integrations/{integration_id}", response_model=Integration)
async def get_integration(integration_id: UUID, session: SessionDep):
    """Get one channel integration (admins)."""
    return await service.get(session, integration_id)


@router.patch("/v1/channel-integrations/{integration_id}", response_model=Integration)
async def update_integration(integration_id: UUID, body: IntegrationUpdate, session: SessionDep):
    """Change a channel integration (admins)."""
    return await service.update(session, integration_id, body)


@router.delete("/v1/channel-integrations/{integration_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_integration(integration_id: UUID, session: SessionDep):
    """Delete a channel integration (admins)."""
    await service.delete(session, integration_id)


@router.post("/v1/channels/chatwoot/{integration_id}", response_model=Inbound,
             responses={401: {"description": "bad or missing signature/token"},
                        404: {"description": "unknown integration"}, 422: {"description": "malformed payload"}})
async def chatwoot_webhook(integration_id: UUID, request: Request,
                           token: Annotated[str | None, Query(max_length=200)] = None,
                           x_renum_channel_token: Annotated[str | None, Header()] = None,
                           x_chatwoot_timestamp: Annotated[str | None, Header()] = None,
                           x_chatwoot_signature: Annotated[str | None, Header()] = None):
    """Chatwoot agent bot webhook: a customer's message is stored now and answered in the background."""
    # Per integration and caller address: a runaway sender cannot flood the agent (and the
    # model bill), and a stranger hammering the URL cannot use up Chatwoot's own budget.
    client = request.client.host if request.client else "unknown"
    await ratelimit.hit(request.app.state.redis, f"channel:{integration_id}:{client}",
                        get_settings().channel_rate_limit_per_minute)
    body = await request.body()
    if len(body) > MAX_INBOUND_BYTES:
        raise PayloadTooLarge("the webhook body is too large")
    return await service.inbound(request.app.state.db, integration_id, body, token=token or x_renum_channel_token,
                                 timestamp=x_chatwoot_timestamp, signature=x_chatwoot_signature)
