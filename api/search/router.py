from uuid import UUID

from fastapi import APIRouter

from api.core.deps import OrgId, RedisDep, SessionDep
from api.search import service
from api.search.schemas import MultiSearchRequest, SearchOptions, SearchResponse

router = APIRouter(tags=["search"])


@router.post("/v1/knowledge-bases/{kb_id}/search", response_model=SearchResponse)
async def search_knowledge_base(kb_id: UUID, body: SearchOptions, session: SessionDep, org_id: OrgId,
                                redis: RedisDep):
    """Search one knowledge base: hybrid (vector + full text, fused by RRF), vector or text."""
    result = await service.search(session, [kb_id], body, org_id=org_id, redis=redis)
    return SearchResponse(data=result.hits, mode=body.mode, cached=result.cached)


@router.post("/v1/search", response_model=SearchResponse)
async def search_knowledge_bases(body: MultiSearchRequest, session: SessionDep, org_id: OrgId, redis: RedisDep):
    """Search several knowledge bases that share one embedding model, as one ranked list."""
    result = await service.search(session, body.knowledge_base_ids, body, org_id=org_id, redis=redis)
    return SearchResponse(data=result.hits, mode=body.mode, cached=result.cached)
