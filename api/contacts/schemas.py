from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.core.edge import Metadata


class ContactCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    external_id: str | None = Field(None, min_length=1, max_length=200, description="id in your channel or CRM")
    name: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str | None = Field(None, max_length=50)
    locale: str | None = Field(None, max_length=20)
    metadata: Metadata = Field(default_factory=dict)


class ContactUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str | None = Field(None, max_length=50)
    locale: str | None = Field(None, max_length=20)
    metadata: Metadata | None = None


class Contact(BaseModel):
    id: UUID
    organization_id: UUID
    external_id: str | None
    name: str | None
    email: str | None
    phone: str | None
    locale: str | None
    metadata: dict
    created_at: datetime
    updated_at: datetime


class IdentifierCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["phone", "email", "channel"]
    value: str = Field(min_length=1, max_length=320, description="phone in any notation (stored as E.164), "
                                                                 "email (stored lower-cased) or a channel id")


class Identifier(BaseModel):
    id: UUID
    kind: str
    value: str
    created_at: datetime


class MergeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contact_id: UUID = Field(description="the contact to fold into this one; it is deleted")


class MergeRecord(BaseModel):
    id: UUID
    contact_id: UUID | None
    merged_contact_id: UUID
    merged_external_id: str | None
    moved: dict = Field(description="rows moved per table and facts superseded")
    merged_by: UUID | None
    created_at: datetime


class Merged(BaseModel):
    contact: Contact
    merge: MergeRecord
