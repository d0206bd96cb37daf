"""API shapes of a contact's memory (GET/POST/DELETE /v1/contacts/{id}/memories)."""
from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.agents.schemas import TimeZone
from api.memory.models import MemoryKind


class Memory(BaseModel):
    """One thing remembered about a contact: a fact (key/value, superseded when contradicted),
    a session summary, or an indexed conversation turn."""
    id: UUID
    kind: MemoryKind
    key: str | None
    content: str
    confidence: float
    contact_id: UUID
    agent_id: UUID | None
    conversation_id: UUID | None
    metadata: dict
    valid_from: datetime
    valid_to: datetime | None = Field(description="set when a newer fact superseded this one")
    superseded_by: UUID | None
    created_at: datetime


class MemorySearch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1, max_length=4000, pattern=r"\S", description="what the customer might ask")
    k: int = Field(10, ge=1, le=50, description="how many memories (turn excerpts count as one)")
    kinds: list[MemoryKind] = Field(default_factory=lambda: ["fact", "summary", "turn"], min_length=1)
    timezone: TimeZone = "UTC"


class ExcerptTurnOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: UUID
    role: str | None
    content: str
    created_at: datetime
    seq: int | None


class MemoryHitOut(BaseModel):
    """A retrieved memory as the chat would see it; turns come with their excerpt."""
    model_config = ConfigDict(from_attributes=True)
    id: UUID
    kind: MemoryKind
    key: str | None
    content: str
    score: float
    rank: int
    created_at: datetime
    conversation_id: UUID | None
    metadata: dict
    excerpt: list[ExcerptTurnOut]


class MemorySearchResult(BaseModel):
    hits: list[MemoryHitOut]
