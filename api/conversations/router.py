from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response, status

from api.conversations import service
from api.conversations.schemas import Conversation, ConversationCreate, Message
from api.core.deps import OrgId, SessionDep
from api.core.pagination import Page, PageDep, make_page

router = APIRouter(tags=["conversations"])


@router.post("/v1/agents/{agent_id}/conversations", status_code=status.HTTP_201_CREATED, response_model=Conversation,
             responses={200: {"model": Conversation, "description": "the channel conversation already existed"}})
async def open_conversation(agent_id: UUID, body: ConversationCreate, session: SessionDep, org_id: OrgId,
                            response: Response):
    """Open a conversation between an agent and a contact (201), or return the channel's existing one (200)."""
    row, created = await service.open_conversation(session, org_id, agent_id, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return row


@router.get("/v1/agents/{agent_id}/conversations", response_model=Page[Conversation])
async def list_conversations(agent_id: UUID, session: SessionDep, org_id: OrgId, page: PageDep,
                             contact_id: Annotated[UUID | None, Query()] = None,
                             state: Annotated[Literal["open", "closed"] | None, Query(alias="status")] = None):
    """List an agent's conversations, newest first."""
    rows = await service.list_for_agent(session, org_id, agent_id, page, contact_id=contact_id, status=state)
    return make_page(rows, page, Conversation)


@router.get("/v1/conversations/{conversation_id}", response_model=Conversation)
async def get_conversation(conversation_id: UUID, session: SessionDep):
    """Get one conversation."""
    return await service.get(session, conversation_id)


@router.get("/v1/conversations/{conversation_id}/messages", response_model=Page[Message])
async def list_messages(conversation_id: UUID, session: SessionDep, org_id: OrgId, page: PageDep):
    """List a conversation's messages, newest first, each answer with its citations."""
    return make_page(await service.list_messages(session, org_id, conversation_id, page), page, Message)


@router.post("/v1/conversations/{conversation_id}/close", response_model=Conversation)
async def close_conversation(conversation_id: UUID, session: SessionDep):
    """Close a conversation; later messages to it are refused with 409."""
    return await service.close(session, conversation_id)
