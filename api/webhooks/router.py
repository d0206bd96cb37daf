from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, status

from api.core.deps import OrgId, SessionDep
from api.core.pagination import Page, PageDep, make_page
from api.webhooks import service
from api.webhooks.schemas import (Delivery, DeliveryAttempt, DeliveryStatus, Endpoint, EndpointCreate, EndpointCreated,
                                  EndpointUpdate, SecretRotation)

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=EndpointCreated)
async def create_webhook(body: EndpointCreate, session: SessionDep, org_id: OrgId):
    """Register an endpoint for signed events; the response shows its secret, once (admins)."""
    return await service.create(session, org_id, body)


@router.get("", response_model=Page[Endpoint])
async def list_webhooks(session: SessionDep, org_id: OrgId, page: PageDep):
    """List the organization's webhook endpoints."""
    return make_page(await service.list_endpoints(session, org_id, page), page, Endpoint)


@router.get("/{endpoint_id}", response_model=Endpoint)
async def get_webhook(endpoint_id: UUID, session: SessionDep):
    """Get one webhook endpoint."""
    return await service.get(session, endpoint_id)


@router.patch("/{endpoint_id}", response_model=Endpoint)
async def update_webhook(endpoint_id: UUID, body: EndpointUpdate, session: SessionDep):
    """Change an endpoint's URL, event types, description or active flag (admins)."""
    return await service.update(session, endpoint_id, body)


@router.delete("/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_webhook(endpoint_id: UUID, session: SessionDep):
    """Delete an endpoint with its deliveries (admins)."""
    await service.delete(session, endpoint_id)


@router.get("/{endpoint_id}/deliveries", response_model=Page[Delivery])
async def list_deliveries(endpoint_id: UUID, session: SessionDep, org_id: OrgId, page: PageDep,
                          status_filter: Annotated[DeliveryStatus | None, Query(alias="status")] = None):
    """List an endpoint's deliveries, newest first, with attempts and the last error."""
    rows = await service.list_deliveries(session, org_id, endpoint_id, page, status_filter)
    return make_page(rows, page, Delivery)


@router.post("/{endpoint_id}/deliveries/{delivery_id}/redeliver", status_code=status.HTTP_202_ACCEPTED,
             response_model=Delivery)
async def redeliver(endpoint_id: UUID, delivery_id: UUID, session: SessionDep):
    """Queue a dead-lettered delivery again with a fresh attempt budget (admins)."""
    return await service.redeliver(session, endpoint_id, delivery_id)


@router.post("/{endpoint_id}/rotate-secret", response_model=EndpointCreated)
async def rotate_secret(endpoint_id: UUID, session: SessionDep, body: SecretRotation | None = None):
    """Give the endpoint a new secret, shown once; the old one also signs during the grace period (admins)."""
    return await service.rotate_secret(session, endpoint_id, (body or SecretRotation()).grace_period_s)


@router.post("/{endpoint_id}/test", status_code=status.HTTP_202_ACCEPTED, response_model=Delivery)
async def send_test_event(endpoint_id: UUID, session: SessionDep):
    """Send the endpoint a signed `webhook.test` event now (admins)."""
    return await service.send_test(session, endpoint_id)


@router.get("/{endpoint_id}/deliveries/{delivery_id}/attempts", response_model=list[DeliveryAttempt])
async def list_attempts(endpoint_id: UUID, delivery_id: UUID, session: SessionDep):
    """Each HTTP attempt of a delivery: status, error, duration and the start of the receiver's answer."""
    return await service.list_attempts(session, endpoint_id, delivery_id)
