from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.webhooks.schemas import check_http_url

AccountId = str | int


class _IntegrationFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("base_url", check_fields=False)
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_http_url(value).rstrip("/")

    @field_validator("account_id", check_fields=False)
    @classmethod
    def _account(cls, value: AccountId | None) -> str | None:
        if value is None:
            return None
        text = str(value).strip()
        if not text.isdigit() or len(text) > 20:
            raise ValueError("must be Chatwoot's numeric account id")
        return text


class IntegrationCreate(_IntegrationFields):
    kind: Literal["chatwoot"] = "chatwoot"
    name: str = Field("", max_length=200)
    agent_id: UUID = Field(description="the agent that answers this inbox")
    base_url: str = Field(max_length=2000, description="your Chatwoot, e.g. https://app.chatwoot.com")
    account_id: AccountId
    api_access_token: str = Field(min_length=1, max_length=500,
                                  description="the agent bot's access token; used to post replies, never returned")
    webhook_secret: str | None = Field(None, min_length=1, max_length=500, description=(
        "Chatwoot's webhook secret: when set, inbound requests must carry a valid X-Chatwoot-Signature"))
    active: bool = True


class IntegrationUpdate(_IntegrationFields):
    name: str | None = Field(None, max_length=200)
    agent_id: UUID | None = None
    base_url: str | None = Field(None, max_length=2000)
    account_id: AccountId | None = None
    api_access_token: str | None = Field(None, min_length=1, max_length=500)
    webhook_secret: str | None = Field(None, max_length=500, description="empty string: remove it")
    active: bool | None = None


class Integration(BaseModel):
    id: UUID
    organization_id: UUID
    kind: str
    name: str
    agent_id: UUID
    base_url: str
    account_id: str
    signature_required: bool = Field(description="a webhook_secret is set: inbound requests must be signed")
    inbound_path: str = Field(description="where Chatwoot must POST (append ?token=... unless signed)")
    active: bool
    created_at: datetime
    updated_at: datetime


class IntegrationCreated(Integration):
    token: str = Field(description="secret for the inbound URL (?token=); shown only in this response")
    inbound_url_path: str = Field(description="inbound_path with the token: the agent bot's outgoing URL path")


class Inbound(BaseModel):
    status: Literal["accepted", "duplicate", "ignored"]
    reason: str | None = None
