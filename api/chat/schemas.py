from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.conversations.schemas import Citation, Message


class SendMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    content: str = Field(min_length=1, max_length=16000, description="the customer's message")
    client_message_id: str | None = Field(
        None, min_length=1, max_length=200,
        description="idempotency key: sending the same id again returns the stored answer instead of a new one")
    stream: bool = Field(False, description="answer as server-sent events: delta, citations, done (or error)")

    @field_validator("content")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("content must contain some text")
        return value


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatResponse(BaseModel):
    conversation_id: UUID
    user_message: Message
    message: Message = Field(description="the agent's answer")
    citations: list[Citation]
    usage: Usage
    model: str = Field(description="the model that actually answered (after any fallback)")
    latency_ms: int | None = Field(description="time the model took")
    replayed: bool = Field(description="true when this is the stored answer to a retried client_message_id")
