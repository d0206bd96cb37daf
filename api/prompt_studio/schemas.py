from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

Body = Field(min_length=1, max_length=20000, description="a system prompt: Jinja, rendered in the sandbox with the "
             "inputs of prompts/system.j2 (agent_name, instructions, business_name, customer_name, now)")


class TemplateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    body: str = Body
    note: str = Field("", max_length=500)


class VersionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Body
    note: str = Field("", max_length=500, description="what changed")


class Rollback(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1, description="the version whose text becomes current again (as a new version)")


class TestRun(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agent_id: UUID = Field(description="whose model, name and settings answer")
    message: str = Field(min_length=1, max_length=4000, description="a sample customer message")
    version: int | None = Field(None, ge=1, description="default: the current version")
    customer_name: str | None = Field(None, max_length=200)


class Template(BaseModel):
    id: UUID
    organization_id: UUID
    name: str
    description: str
    current_version: int
    body: str = Field(description="the current version's text")
    note: str
    created_at: datetime
    updated_at: datetime


class Version(BaseModel):
    id: UUID
    template_id: UUID
    version: int
    body: str
    note: str
    created_by: UUID | None
    created_at: datetime


class VersionList(BaseModel):
    data: list[Version]


class Diff(BaseModel):
    from_version: int
    to_version: int
    diff: str = Field(description="unified diff, from → to")


class TestRunResult(BaseModel):
    version: int
    system_prompt: str = Field(description="the template rendered for this agent and customer")
    answer: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: int
