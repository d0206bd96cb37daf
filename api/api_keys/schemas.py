from datetime import datetime, timezone
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    role: Literal["admin", "member"] = "member"
    expires_at: datetime | None = Field(None, description="with a time zone; naive times are UTC")

    @field_validator("expires_at")
    @classmethod
    def _in_range(cls, value: datetime | None) -> datetime | None:
        # 9999-12-31T23:59:59-23:59 is valid ISO 8601 but past datetime.max once in UTC.
        if value is None:
            return None
        try:
            return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
        except OverflowError:
            raise ValueError("expires_at is outside the supported date range") from None


class ApiKey(BaseModel):
    id: UUID
    organization_id: UUID
    name: str
    prefix: str
    role: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class ApiKeyWithSecret(ApiKey):
    key: str = Field(description="the secret; shown only in this response")
