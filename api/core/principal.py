"""Who is calling, and the JWT claims the database sees for them."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from uuid import UUID

# Claims only the API sets (after verifying an API key, or for a worker task). Supabase user
# tokens carrying these names have them removed so a user can never widen their own scope.
RESERVED_CLAIMS = ("renum_org_id", "renum_org_role", "renum_api_key_id", "renum_principal")


@dataclass(frozen=True)
class Principal:
    kind: Literal["user", "api_key", "worker", "channel"]
    claims: dict = field(hash=False)
    user_id: UUID | None = None
    # Set for API keys and workers: the one organization they act for.
    organization_id: UUID | None = None
    role: str | None = None
    api_key_id: UUID | None = None

    @property
    def rate_key(self) -> str:
        return f"key:{self.api_key_id}" if self.api_key_id else f"user:{self.user_id}"


def user_principal(claims: dict) -> Principal:
    clean = {k: v for k, v in claims.items() if k not in RESERVED_CLAIMS}
    return Principal(kind="user", claims=clean, user_id=UUID(str(claims["sub"])))


def org_principal(org_id: UUID, role: str, *, kind: Literal["api_key", "worker", "channel"],
                  api_key_id: UUID | None = None) -> Principal:
    claims = {"role": "authenticated", "renum_org_id": str(org_id), "renum_org_role": role,
              "renum_principal": kind}
    if api_key_id:
        claims["renum_api_key_id"] = str(api_key_id)
    return Principal(kind=kind, claims=claims, organization_id=org_id, role=role, api_key_id=api_key_id)


# A worker acting for no single organization (the beat sweeps): every table policy shows it
# nothing; only the security-definer scans that check `renum_principal = 'worker'` answer it.
SCANNER = Principal(kind="worker", claims={"role": "authenticated", "renum_principal": "worker"})
