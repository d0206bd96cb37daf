"""Plain data shapes the memory service returns (no FastAPI): the API shapes are in schemas.py,
as in every other domain; the chat code builds its own API models."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from uuid import UUID

MemoryKind = Literal["fact", "summary", "turn"]


@dataclass(frozen=True, slots=True)
class ExcerptTurn:
    """One turn of a retrieved excerpt (a turn memory and its neighbours in the conversation)."""
    id: UUID
    content: str
    created_at: datetime
    role: str | None
    speaker: str | None
    message_id: str | None
    seq: int | None


@dataclass(frozen=True, slots=True)
class MemoryHit:
    """One retrieved memory. `score` is the fused (RRF) score, `rank` 1-based.

    For kind='turn', metadata has message_id, role and speaker; for 'fact', key/value;
    for 'summary', turns (how many turns it covers). Turn hits carry `excerpt`: the turns of
    the same conversation around the match, in order, the match included."""
    id: UUID
    kind: MemoryKind
    content: str
    score: float
    rank: int
    created_at: datetime
    conversation_id: UUID | None
    metadata: dict = field(default_factory=dict)
    key: str | None = None
    excerpt: tuple[ExcerptTurn, ...] = ()


@dataclass(frozen=True, slots=True)
class ExtractedFact:
    """One fact as parsed from the LLM's JSON (key normalised to snake_case)."""
    key: str
    value: str
    confidence: float
