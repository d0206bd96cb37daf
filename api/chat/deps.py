"""Dependencies of the chat endpoints (native and OpenAI-compatible)."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from api.chat.transactions import Transactions
from api.core.db import unit_of_work
from api.core.deps import CurrentPrincipal, get_org_id


async def get_transactions(request: Request, principal: CurrentPrincipal,
                           x_organization_id: Annotated[str | None, Header()] = None) -> Transactions:
    # The organization is resolved in its own short transaction (same rules as OrgId) so the
    # endpoint itself holds none while the model generates.
    pool = request.app.state.db
    async with unit_of_work(pool, principal) as session:
        org_id = await get_org_id(session, x_organization_id)
    return Transactions(pool, principal, org_id)


TransactionsDep = Annotated[Transactions, Depends(get_transactions)]
