from uuid import UUID

from fastapi import APIRouter, status

from api.core.deps import OrgId, SessionDep
from api.core.pagination import Page, PageDep, make_page
from api.knowledge_bases import service
from api.knowledge_bases.schemas import KnowledgeBase, KnowledgeBaseCreate, KnowledgeBaseUpdate

router = APIRouter(prefix="/v1/knowledge-bases", tags=["knowledge bases"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=KnowledgeBase)
async def create_knowledge_base(body: KnowledgeBaseCreate, session: SessionDep, org_id: OrgId):
    """Create a knowledge base; its embedding model and dimension are fixed from now on."""
    return await service.create(session, org_id, body)


@router.get("", response_model=Page[KnowledgeBase])
async def list_knowledge_bases(session: SessionDep, org_id: OrgId, page: PageDep):
    """List the organization's knowledge bases."""
    return make_page(await service.list_kbs(session, org_id, page), page, KnowledgeBase)


@router.get("/{kb_id}", response_model=KnowledgeBase)
async def get_knowledge_base(kb_id: UUID, session: SessionDep):
    """Get one knowledge base."""
    return await service.get(session, kb_id)


@router.patch("/{kb_id}", response_model=KnowledgeBase)
async def update_knowledge_base(kb_id: UUID, body: KnowledgeBaseUpdate, session: SessionDep):
    """Update a knowledge base's name, description or metadata."""
    return await service.update(session, kb_id, body)


@router.delete("/{kb_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_knowledge_base(kb_id: UUID, session: SessionDep):
    """Delete a knowledge base with its documents and chunks."""
    await service.delete(session, kb_id)
