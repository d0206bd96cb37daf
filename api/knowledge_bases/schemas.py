from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.core.edge import Metadata

Language = Literal["portuguese", "english", "simple"]


class KnowledgeBaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=5000)
    language: Language = Field("portuguese", description="full-text search configuration")
    embedding_model: str | None = Field(None, max_length=200, description="default: the server's model")
    metadata: Metadata = Field(default_factory=dict)


class KnowledgeBaseUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=5000)
    metadata: Metadata | None = None


class KnowledgeBase(BaseModel):
    id: UUID
    organization_id: UUID
    name: str
    description: str
    language: str
    embedding_model: str
    embedding_dim: int
    content_version: int
    metadata: dict
    created_at: datetime
    updated_at: datetime
