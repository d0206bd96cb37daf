from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request, status
from fastapi.responses import PlainTextResponse

from api.channels import handoff, service, whatsapp_inbound
from api.channels.schemas import (AnyIntegrationCreate, ConversationHandoff, HandoffRequest, Inbound, Integration,
                                  IntegrationCreated, IntegrationUpdate)
from api.core import ratelimit
from api.core.config import get_settings
from api.core.deps import OrgId, SessionDep
from api.core.errors import PayloadTooLarge
from api.core.pagination import Page, PageDep, make_page

router = APIRouter(tags=["channels"])
MAX_INBOUND_BYTES = 1024 * 1024


@router.post("/v1/channel-integrations", status_code=status.HTTP_201_CREATED, response_model=IntegrationCreated)
async def create_integration(body: AnyIntegrationCreate, session: SessionDep, org_id: OrgId):
    """Connect a Chatwoot inbox or a WhatsApp number to an agent; Chatwoot's inbound token is shown once (admins)."""
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
    body = await _limited_body(request, integration_id)
    return await service.inbound(request.app.state.db, integration_id, body, token=token or x_renum_channel_token,
                                 timestamp=x_chatwoot_timestamp, signature=x_chatwoot_signature)


async def _limited_body(request: Request, integration_id: UUID) -> bytes:
    # Per integration and caller address: a runaway sender cannot flood the agent (and the
    # model bill), and a stranger hammering the URL cannot use up the provider's own budget.
    client = request.client.host if request.client else "unknown"
    await ratelimit.hit(request.app.state.redis, f"channel:{integration_id}:{client}",
                        get_settings().channel_rate_limit_per_minute)
    body = await request.body()
    if len(body) > MAX_INBOUND_BYTES:
        raise PayloadTooLarge("the webhook body is too large")
    return body


@router.get("/v1/channels/whatsapp/{integration_id}", response_class=PlainTextResponse,
            responses={403: {"description": "wrong verify token"}, 404: {"description": "unknown integration"}})
async def whatsapp_verify(integration_id: UUID, request: Request,
                          hub_mode: Annotated[str | None, Query(alias="hub.mode", max_length=50)] = None,
                          hub_verify_token: Annotated[str | None, Query(alias="hub.verify_token", max_length=200)] = None,
                          hub_challenge: Annotated[str | None, Query(alias="hub.challenge", max_length=200)] = None):
    """Meta's webhook subscription handshake: answers hub.challenge when hub.verify_token matches."""
    await _limited_body(request, integration_id)
    return await whatsapp_inbound.verify(request.app.state.db, integration_id, hub_mode, hub_verify_token,
                                         hub_challenge)


@router.post("/v1/channels/whatsapp/{integration_id}", response_model=Inbound,
             responses={401: {"description": "bad or missing X-Hub-Signature-256"},
                        404: {"description": "unknown integration"}, 422: {"description": "malformed payload"}})
async def whatsapp_webhook(integration_id: UUID, request: Request,
                           x_hub_signature_256: Annotated[str | None, Header()] = None):
    """WhatsApp Cloud API webhook: new messages are stored now and answered in the background."""
    body = await _limited_body(request, integration_id)
    return await whatsapp_inbound.inbound(request.app.state.db, integration_id, body, x_hub_signature_256)


@router.post("/v1/conversations/{conversation_id}/handoff", response_model=ConversationHandoff)
async def hand_off_conversation(conversation_id: UUID, body: HandoffRequest, session: SessionDep):
    """Take a conversation away from the agent: its channel messages wait for a person."""
    return await handoff.hand_off(session, conversation_id, body.reason)


@router.post("/v1/conversations/{conversation_id}/release", response_model=ConversationHandoff)
async def release_conversation(conversation_id: UUID, session: SessionDep):
    """Give a handed-off conversation back to the agent."""
    return await handoff.release(session, conversation_id)
