from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.core.edge import Metadata

DocumentStatus = Literal["queued", "processing", "ready", "failed"]
TextContentType = Literal["text/plain", "text/markdown", "text/html", "application/json"]
MAX_TAGS = 50
MAX_TAG_CHARS = 100


def clean_tags(tags: list[str]) -> list[str]:
    """Trimmed, non-empty, first occurrence kept; tags are copied onto every chunk for filtering."""
    out = list(dict.fromkeys(t.strip() for t in tags if t and t.strip()))
    if len(out) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags are allowed")
    if any(len(t) > MAX_TAG_CHARS for t in out):
        raise ValueError(f"a tag may have at most {MAX_TAG_CHARS} characters")
    return out


@dataclass(frozen=True)
class NewContent:
    """An upload as the service sees it, whichever endpoint it came through."""
    data: bytes
    content_type: str
    filename: str | None = None
    title: str | None = None
    tags: list[str] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)
    source: str = "upload"


class DocumentText(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=500)
    text: str = Field(min_length=1, description="the document itself")
    content_type: TextContentType = Field("text/plain", description="how to read `text`")
    tags: list[str] = Field(default_factory=list)
    metadata: Metadata = Field(default_factory=dict)
    source: str = Field("api", min_length=1, max_length=200)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        return clean_tags(value)


class Document(BaseModel):
    id: UUID
    organization_id: UUID
    knowledge_base_id: UUID
    title: str
    filename: str | None
    content_type: str
    source: str
    size_bytes: int
    sha256: str
    tags: list[str]
    metadata: dict
    version: int = Field(description="bumped by every content replacement")
    status: DocumentStatus
    progress: float = Field(description="0..1 while processing; 1 when ready")
    error: str | None = Field(description="why processing failed (status failed)")
    chunk_count: int
    attempts: int = Field(description="processing attempts for the current version")
    created_at: datetime
    updated_at: datetime
    processed_at: datetime | None
