import asyncio
from uuid import UUID

from api.agents import repository
from api.agents.schemas import AgentCreate, AgentUpdate
from api.core.db import Session
from api.core.errors import NotFound, Unprocessable
from api.core.pagination import PageParams
from api.llm.client import available_models
from api.prompts.service import validate_org_template


async def _check_kbs(session: Session, org_id: UUID, kb_ids: list[UUID] | None) -> None:
    if kb_ids and (missing := await repository.missing_knowledge_bases(session.conn, org_id, kb_ids)):
        raise NotFound(f"knowledge base not found: {missing[0]}")


async def _check_fields(values: dict) -> None:
    """Reject an agent that could never answer: unknown model group or a broken system prompt."""
    if (model := values.get("model")) is not None:
        models = available_models()
        if model not in models:
            raise Unprocessable(f"model '{model}' is not configured; available models: {', '.join(models)}",
                                code="unknown_model")
    if (prompt := values.get("system_prompt")) and prompt.strip():
        # A trial render under the sandbox's budget: up to a second of CPU, off the event loop.
        await asyncio.to_thread(validate_org_template, "system", prompt)


async def create(session: Session, org_id: UUID, data: AgentCreate) -> dict:
    await _check_fields(data.model_dump())
    await _check_kbs(session, org_id, data.knowledge_base_ids)
    return await repository.insert(session.conn, {**data.model_dump(), "organization_id": org_id})


async def get(session: Session, agent_id: UUID) -> dict:
    row = await repository.get(session.conn, agent_id)
    if row is None:
        raise NotFound("agent not found")
    return row


async def list_agents(session: Session, org_id: UUID, params: PageParams) -> list[dict]:
    return await repository.page(session.conn, org_id, params)


async def update(session: Session, agent_id: UUID, data: AgentUpdate) -> dict:
    current = await get(session, agent_id)
    values = data.model_dump(exclude_unset=True)
    await _check_fields(values)
    await _check_kbs(session, current["organization_id"], values.get("knowledge_base_ids"))
    return await repository.update(session.conn, agent_id, values)


async def delete(session: Session, agent_id: UUID) -> None:
    if not await repository.delete(session.conn, agent_id):
        raise NotFound("agent not found")
