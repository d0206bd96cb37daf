"""A contact's memory over HTTP: what the agents remember, a search as the chat does it, and
forgetting one memory (a wrong fact) without erasing the contact."""
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, status

from api.core.deps import OrgId, SessionDep
from api.core.pagination import Page, PageDep, make_page
from api.memory import service
from api.memory.schemas import Memory, MemoryHitOut, MemorySearch, MemorySearchResult
from api.memory.models import MemoryKind

router = APIRouter(prefix="/v1/contacts/{contact_id}/memories", tags=["memory"])


@router.get("", response_model=Page[Memory])
async def list_memories(contact_id: UUID, session: SessionDep, org_id: OrgId, page: PageDep,
                        kind: Annotated[MemoryKind | None, Query()] = None,
                        include_superseded: Annotated[bool, Query(description="also facts replaced by newer ones")] = False):
    """What the agents remember about a contact (facts, session summaries, indexed turns), newest first."""
    rows = await service.list_memories(session, org_id, contact_id, page, kind=kind,
                                       include_superseded=include_superseded)
    return make_page(rows, page, Memory)


@router.post("/search", response_model=MemorySearchResult)
async def search_memories(contact_id: UUID, body: MemorySearch, session: SessionDep):
    """Search a contact's memory with the chat's own retrieval, to see what an agent would recall."""
    hits = await service.search(session, contact_id, body.query, body.k, kinds=body.kinds, timezone=body.timezone)
    return MemorySearchResult(hits=[MemoryHitOut.model_validate(h) for h in hits])


@router.delete("/{memory_id}", status_code=status.HTTP_204_NO_CONTENT)
async def forget_memory(contact_id: UUID, memory_id: UUID, session: SessionDep):
    """Forget one memory (a wrong fact, a summary, an indexed turn); the conversation history stays."""
    await service.forget(session, contact_id, memory_id)
