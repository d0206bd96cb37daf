from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.core.edge import Metadata


class ConversationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contact_id: UUID | None = Field(None, description="an existing contact")
    contact_external_id: str | None = Field(
        None, min_length=1, max_length=200,
        description="the customer's id in your channel or CRM; the contact is created if new")
    contact_name: str | None = Field(None, min_length=1, max_length=200,
                                     description="with contact_external_id: sets the contact's name")
    channel: str = Field("api", min_length=1, max_length=50, pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    external_id: str | None = Field(
        None, min_length=1, max_length=200,
        description="the conversation's id in the channel; opening it again returns the same conversation")
    metadata: Metadata = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_way_to_name_the_contact(self) -> "ConversationCreate":
        if self.contact_id and self.contact_external_id:
            raise ValueError("send contact_id or contact_external_id, not both")
        if self.contact_name and not self.contact_external_id:
            raise ValueError("contact_name is only used together with contact_external_id")
        return self


class Conversation(BaseModel):
    id: UUID
    organization_id: UUID
    agent_id: UUID
    contact_id: UUID
    user_id: UUID | None
    channel: str
    external_id: str | None
    status: Literal["open", "closed"]
    metadata: dict
    summarized_at: datetime | None
    created_at: datetime
    last_message_at: datetime
    closed_at: datetime | None


class Citation(BaseModel):
    """A knowledge-base chunk or a memory that was in the model's context for an answer."""
    id: UUID
    kind: Literal["chunk", "memory"]
    rank: int = Field(description="1-based; for chunks, the [n] the answer may cite")
    score: float = Field(description="retrieval score (chunks: the search's fused score, by default a sum of "
                                     "z-scores, so 0 is an average candidate and it may be negative)")
    chunk_id: UUID | None = None
    document_id: UUID | None = None
    document_title: str | None = None
    memory_id: UUID | None = None
    memory_kind: Literal["fact", "summary", "turn"] | None = None
    text: str = Field(description="the cited text (first 500 characters)")


class Message(BaseModel):
    id: UUID
    conversation_id: UUID
    role: Literal["user", "assistant", "system", "tool"]
    content: str
    client_message_id: str | None
    reply_to: UUID | None = Field(description="for an answer: the user message it answers")
    model: str | None = Field(description="for an answer: the model that actually produced it")
    tokens: int | None
    metadata: dict
    created_at: datetime
    citations: list[Citation] = Field(default_factory=list)
