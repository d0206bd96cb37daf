from datetime import datetime
from typing import Annotated
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from api.core.edge import Metadata


def _iana_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    # tzdata directories ('America', 'Etc', '__pycache__') open as IsADirectoryError (an OSError).
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {value!r}: use an IANA name such as 'America/Sao_Paulo' or 'UTC'") from None
    return value


def _agent_settings(value: dict) -> dict:
    """The keys of `settings` the service reads are checked; the rest are the organization's own."""
    if "answer_check" in value and not isinstance(value["answer_check"], bool):
        raise ValueError("settings.answer_check must be true or false")
    if "answer_check_threshold" in value:
        threshold = value["answer_check_threshold"]
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not -50 <= threshold <= 50:
            raise ValueError("settings.answer_check_threshold must be a number between -50 and 50")
    return value


AgentSettings = Annotated[Metadata, AfterValidator(_agent_settings), Field(description=(
    "free-form settings of the organization; the service reads two: answer_check (false: the local model "
    "is never asked whether the knowledge excerpts answer the question before it answers) and "
    "answer_check_threshold (its yes/no margin below which the agent says it does not have the "
    "information; higher = refuses more; default: the one measured for the model)"))]


TimeZone = Annotated[str, Field(min_length=1, max_length=64, description=(
    "IANA time zone (e.g. America/Sao_Paulo): the agent's 'now' in its prompt, the dates of remembered "
    "exchanges, and the days a customer means by 'ontem', 'last week' or '3 de maio'")),
    AfterValidator(_iana_zone)]


class AgentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=5000)
    model: str = Field("renum-local", max_length=200, description="an LLM model group from the LiteLLM router config (infra/litellm.yaml); hosted groups "
                       "appear only when their API key is set")
    system_prompt: str = Field("", max_length=20000, description="Jinja template rendered in a sandbox")
    knowledge_base_ids: list[UUID] = Field(default_factory=list, max_length=20)
    temperature: float = Field(0.3, ge=0, le=2)
    max_tokens: int = Field(512, ge=1, le=8192)
    memory_enabled: bool = True
    retention_days: int | None = Field(None, gt=0, le=36500)
    timezone: TimeZone = "UTC"
    settings: AgentSettings = Field(default_factory=dict)


class AgentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=5000)
    model: str | None = Field(None, max_length=200)
    system_prompt: str | None = Field(None, max_length=20000)
    knowledge_base_ids: list[UUID] | None = Field(None, max_length=20)
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1, le=8192)
    memory_enabled: bool | None = None
    retention_days: int | None = Field(None, gt=0, le=36500)
    timezone: TimeZone | None = None
    settings: AgentSettings | None = None


class Agent(BaseModel):
    id: UUID
    organization_id: UUID
    name: str
    description: str
    model: str
    system_prompt: str
    knowledge_base_ids: list[UUID]
    temperature: float
    max_tokens: int
    memory_enabled: bool
    retention_days: int | None
    timezone: str
    settings: dict
    created_at: datetime
    updated_at: datetime
