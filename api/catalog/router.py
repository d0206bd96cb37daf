from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query, status

from api.catalog import service
from api.catalog.schemas import (BulkSync, CatalogSearch, CatalogSearchResponse, Feed, FeedIn, Record, RecordBody,
                                 SnapshotComplete, SyncResult)
from api.core.deps import SessionDep

router = APIRouter(prefix="/v1/knowledge-bases/{kb_id}", tags=["catalog"])
ExternalId = Annotated[str, Path(min_length=1, max_length=200)]


@router.put("/records/{external_id}", response_model=Record)
async def put_record(kb_id: UUID, external_id: ExternalId, body: RecordBody, session: SessionDep):
    """Create or replace one catalog record by your id (re-embedded only if its text changed)."""
    return await service.put(session, kb_id, external_id, body)


@router.get("/records/{external_id}", response_model=Record)
async def get_record(kb_id: UUID, external_id: ExternalId, session: SessionDep):
    """Get one catalog record by your id."""
    return await service.get(session, kb_id, external_id)


@router.delete("/records/{external_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_record(kb_id: UUID, external_id: ExternalId, session: SessionDep):
    """Delete one catalog record by your id."""
    await service.delete(session, kb_id, external_id)


@router.post("/records/sync", response_model=SyncResult)
async def sync_records(kb_id: UUID, body: BulkSync, session: SessionDep):
    """Upsert up to 1000 records; with snapshot_id + complete, delete the records the snapshot did not send."""
    return await service.sync(session, kb_id, body)


@router.post("/records/sync/complete", response_model=SyncResult)
async def complete_snapshot(kb_id: UUID, body: SnapshotComplete, session: SessionDep):
    """End a full snapshot sent in batches: records it did not send are deleted."""
    return await service.complete_snapshot(session, kb_id, body.snapshot_id)


@router.post("/records/search", response_model=CatalogSearchResponse)
async def search_records(kb_id: UUID, body: CatalogSearch, session: SessionDep):
    """Hybrid search over the catalog with attribute filters (ranges, booleans, sets) inside both lists."""
    return {"data": await service.search(session, kb_id, body)}


@router.put("/feed", response_model=Feed)
async def put_feed(kb_id: UUID, body: FeedIn, session: SessionDep):
    """Pull a JSON or CSV catalog from a URL every interval_s, as a full snapshot (admins)."""
    return await service.put_feed(session, kb_id, body)


@router.get("/feed", response_model=Feed)
async def get_feed(kb_id: UUID, session: SessionDep):
    """The knowledge base's feed with the outcome of its last pull."""
    return await service.get_feed(session, kb_id)


@router.delete("/feed", status_code=status.HTTP_204_NO_CONTENT)
async def delete_feed(kb_id: UUID, session: SessionDep):
    """Stop pulling the feed (its records stay) (admins)."""
    await service.delete_feed(session, kb_id)


@router.post("/feed/run", status_code=status.HTTP_202_ACCEPTED, response_model=Feed)
async def run_feed(kb_id: UUID, session: SessionDep,
                   force: Annotated[bool, Query(description="ignore the ETag: download even if unchanged")] = False):
    """Pull the feed now."""
    return await service.run_feed(session, kb_id, conditional=not force)
