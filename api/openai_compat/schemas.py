"""The subset of OpenAI's Chat Completions API that Renum serves (unknown fields are ignored)."""
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, list):  # only text parts are used; images etc. are ignored
            return "\n".join(p.text for p in self.content if p.type == "text" and p.text)
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class CompletionMetadata(BaseModel):
    model_config = ConfigDict(extra="allow")
    conversation_id: UUID | None = Field(None, description="continue this Renum conversation (server-side history)")
    client_message_id: str | None = Field(None, min_length=1, max_length=200,
                                          description="idempotency key of the last user message")


class CompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # other OpenAI parameters are accepted and ignored
    model: str = Field(min_length=1, max_length=250, description="agent:<uuid> (see GET /v1/models) or an agent name")
    messages: list[ChatMessage] = Field(min_length=1, max_length=500)
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = Field(None, min_length=1, max_length=200,
                             description="the contact's external id: enables memory of this customer")
    metadata: CompletionMetadata = Field(default_factory=CompletionMetadata)
    max_tokens: int | None = Field(None, ge=1, le=8192)
    max_completion_tokens: int | None = Field(None, ge=1, le=8192)
    temperature: float | None = Field(None, ge=0, le=2)
    n: int | None = Field(None, description="only 1 is supported (400 otherwise)")
    tools: list[dict] | None = Field(None, description="not supported: a non-empty list is a 400")
    functions: list[dict] | None = Field(None, description="not supported: a non-empty list is a 400")

    @field_validator("n")
    @classmethod
    def _one_choice(cls, n: int | None) -> int | None:
        if n is not None and n != 1:
            raise ValueError("only n=1 is supported: an agent gives one answer per message")
        return n

    @field_validator("tools", "functions")
    @classmethod
    def _no_tools(cls, tools: list[dict] | None) -> list[dict] | None:
        if tools:
            raise ValueError("tools (function calling) are not supported: Renum agents answer from their "
                             "knowledge bases and memory; send the request without tools")
        return tools

    @field_validator("messages")
    @classmethod
    def _ends_with_user_text(cls, messages: list[ChatMessage]) -> list[ChatMessage]:
        if messages[-1].role != "user" or not messages[-1].text.strip():
            raise ValueError("the last message must be a non-empty user message")
        return messages


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str
    name: str = Field(description="the agent's name (Renum extension)")


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
