from uuid import UUID

from fastapi import APIRouter, status

from api.agents import service
from api.agents.schemas import Agent, AgentCreate, AgentUpdate
from api.core.deps import OrgId, SessionDep
from api.core.pagination import Page, PageDep, make_page

router = APIRouter(prefix="/v1/agents", tags=["agents"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Agent)
async def create_agent(body: AgentCreate, session: SessionDep, org_id: OrgId):
    """Create an agent."""
    return await service.create(session, org_id, body)


@router.get("", response_model=Page[Agent])
async def list_agents(session: SessionDep, org_id: OrgId, page: PageDep):
    """List the organization's agents."""
    return make_page(await service.list_agents(session, org_id, page), page, Agent)


@router.get("/{agent_id}", response_model=Agent)
async def get_agent(agent_id: UUID, session: SessionDep):
    """Get one agent."""
    return await service.get(session, agent_id)


@router.patch("/{agent_id}", response_model=Agent)
async def update_agent(agent_id: UUID, body: AgentUpdate, session: SessionDep):
    """Update an agent."""
    return await service.update(session, agent_id, body)


@router.delete("/{agent_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_agent(agent_id: UUID, session: SessionDep):
    """Delete an agent and its conversations."""
    await service.delete(session, agent_id)
