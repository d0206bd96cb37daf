from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

Role = Literal["owner", "admin", "member"]


class MembershipCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: UUID
    role: Role = "member"


class MembershipUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role


class Membership(BaseModel):
    id: UUID
    organization_id: UUID
    user_id: UUID
    role: Role
    created_at: datetime
