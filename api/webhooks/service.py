"""Webhook endpoints of an organization and their deliveries.

RLS is the permission check: members read, admins and owners write (a member's write
matches no row or is refused by the policy: 403/404).
"""
from uuid import UUID

from api.core import egress
from api.core.db import Session
from api.core.errors import Conflict, Forbidden, NotFound
from api.core.pagination import PageParams
from api.webhooks import events, repository, signing
from api.webhooks import secrets as endpoint_secrets
from api.webhooks.schemas import EndpointCreate, EndpointUpdate

def _admins_only() -> Forbidden:
    return Forbidden("only admins and owners can change webhook endpoints")


async def create(session: Session, org_id: UUID, data: EndpointCreate) -> dict:
    await egress.require_public_url(data.url, "url")
    secret = signing.new_secret()
    row = await repository.insert(session.conn, {**data.model_dump(), "organization_id": org_id,
                                                 "secret_salt": signing.new_salt(),
                                                 "secret": endpoint_secrets.seal("secret", org_id, secret)})
    return {**row, "secret": secret}


async def get(session: Session, endpoint_id: UUID) -> dict:
    row = await repository.get(session.conn, endpoint_id)
    if row is None:
        raise NotFound("webhook endpoint not found")
    return row


async def list_endpoints(session: Session, org_id: UUID, params: PageParams) -> list[dict]:
    return await repository.page(session.conn, org_id, params)


async def update(session: Session, endpoint_id: UUID, data: EndpointUpdate) -> dict:
    await get(session, endpoint_id)
    await egress.require_public_url(data.url, "url")
    row = await repository.update(session.conn, endpoint_id, data.model_dump(exclude_unset=True))
    if row is None:  # visible to a member, but the update policy is admin-only
        raise _admins_only()
    return row


async def delete(session: Session, endpoint_id: UUID) -> None:
    await get(session, endpoint_id)
    if not await repository.delete(session.conn, endpoint_id):
        raise _admins_only()


async def list_deliveries(session: Session, org_id: UUID, endpoint_id: UUID, params: PageParams,
                          status: str | None) -> list[dict]:
    await get(session, endpoint_id)
    return await repository.page_deliveries(session.conn, org_id, endpoint_id, params, status)


async def redeliver(session: Session, endpoint_id: UUID, delivery_id: UUID) -> dict:
    """Send a dead-lettered delivery again, with a fresh attempt budget."""
    delivery = await repository.get_delivery(session.conn, delivery_id)
    if delivery is None or delivery["endpoint_id"] != endpoint_id:
        raise NotFound("delivery not found")
    if delivery["status"] != "dead":
        raise Conflict(f"only dead deliveries can be redelivered; this one is {delivery['status']}",
                       code="delivery_not_dead")
    row = await repository.reset_delivery(session.conn, delivery_id)
    if row is None:  # a member (update policy is admin-only), or redelivered concurrently
        raise Forbidden("only admins and owners can redeliver, and only a dead delivery")
    org_id = str(row["organization_id"])
    session.after_commit(lambda: events.enqueue(org_id, [str(delivery_id)]))
    return row


async def rotate_secret(session: Session, endpoint_id: UUID, grace_period_s: int) -> dict:
    """A new secret, shown once; the old one keeps signing (both signatures sent) for the grace period."""
    endpoint = await get(session, endpoint_id)
    org_id = endpoint["organization_id"]
    secret = signing.new_secret()
    values = {"secret": endpoint_secrets.seal("secret", org_id, secret), "previous_secret": None,
              "previous_secret_expires_at": None}
    if grace_period_s > 0:
        values["previous_secret"] = endpoint_secrets.seal("previous_secret", org_id, endpoint_secrets.current(endpoint))
    row = await repository.rotate(session.conn, endpoint_id, values, grace_period_s)
    if row is None:
        raise _admins_only()
    return {**row, "secret": secret}


async def send_test(session: Session, endpoint_id: UUID) -> dict:
    """Queue a `webhook.test` event for this endpoint only (whatever its event types)."""
    endpoint = await get(session, endpoint_id)
    org_id = endpoint["organization_id"]
    delivery_id = await repository.emit_test(session.conn, org_id, endpoint_id, {
        "endpoint_id": str(endpoint_id), "message": "A test event from Renum: your endpoint is reachable."})
    if delivery_id is None:
        raise NotFound("webhook endpoint not found")
    session.after_commit(lambda: events.enqueue(str(org_id), [str(delivery_id)]))
    return await repository.get_delivery(session.conn, delivery_id)


async def list_attempts(session: Session, endpoint_id: UUID, delivery_id: UUID) -> list[dict]:
    delivery = await repository.get_delivery(session.conn, delivery_id)
    if delivery is None or delivery["endpoint_id"] != endpoint_id:
        raise NotFound("delivery not found")
    return await repository.attempts(session.conn, delivery_id)