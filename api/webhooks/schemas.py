from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

EventType = Literal["document.ready", "document.failed", "message.created", "contact.deleted",
                    "conversation.handoff", "conversation.released"]
DeliveryStatus = Literal["pending", "delivered", "dead"]


def check_http_url(value: str) -> str:
    """http(s) with a host; anything else (file:, javascript:, relative) is refused with 422."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL")
    if parts.username or parts.password:
        raise ValueError("must not contain credentials")
    return value.strip()


class _EndpointFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("url", check_fields=False)
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_http_url(value)

    @field_validator("event_types", check_fields=False)
    @classmethod
    def _unique(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else list(dict.fromkeys(value))


class EndpointCreate(_EndpointFields):
    url: str = Field(max_length=2000, description="where events are POSTed (http or https)")
    description: str = Field("", max_length=500)
    event_types: list[EventType] = Field(default_factory=list, description="empty: every event type")
    active: bool = True


class EndpointUpdate(_EndpointFields):
    url: str | None = Field(None, max_length=2000)
    description: str | None = Field(None, max_length=500)
    event_types: list[EventType] | None = None
    active: bool | None = None


class Endpoint(BaseModel):
    id: UUID
    organization_id: UUID
    url: str
    description: str
    event_types: list[str]
    active: bool
    secret_rotated_at: datetime | None = None
    previous_secret_expires_at: datetime | None = Field(None, description=(
        "until then the previous secret also signs deliveries (after a rotation)"))
    created_at: datetime
    updated_at: datetime


class EndpointCreated(Endpoint):
    secret: str = Field(description="whsec_... signing secret; shown only in this response")


class SecretRotation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grace_period_s: int = Field(86400, ge=0, le=7 * 86400, description=(
        "how long the old secret keeps signing too (both signatures are sent); 0 = stop at once"))


class DeliveryAttempt(BaseModel):
    id: UUID
    attempt: int
    status_code: int | None
    response_body: str | None = Field(description="the first 1 KiB of the receiver's answer")
    error: str | None
    duration_ms: int
    created_at: datetime


class Delivery(BaseModel):
    id: UUID
    endpoint_id: UUID
    event_id: UUID = Field(description="sent as the webhook-id header; the same on every retry")
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None = Field(description="why the last attempt failed")
    delivered_at: datetime | None
    created_at: datetime
    updated_at: datetime
