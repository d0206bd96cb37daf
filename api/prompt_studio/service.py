"""Prompt Studio: versioned system prompt templates of an organization.

Every save is a new version (validated in the same sandbox the chat renders agents' prompts
in); a rollback is a new version with an old text, so the history is append-only. A test run
renders a version for a chosen agent and a sample customer message and asks the agent's model,
without knowledge retrieval, memory or storage (the playground is the full chat); its tokens
are recorded as usage. Applying a template to an agent is a plain PATCH of its system_prompt.
"""
from __future__ import annotations

import difflib
from datetime import UTC, datetime
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from api.agents import service as agents_service
from api.chat import repository as chat_repository
from api.chat.transactions import Transactions
from api.core.db import Session
from api.core.errors import Conflict, NotFound
from api.core.pagination import PageParams
from api.llm import client as llm_client
from api.prompt_studio import repository
from api.prompt_studio.schemas import TemplateCreate, TestRun
from api.prompts.service import render_org, validate_org_template

MAX_VERSIONS = 200
TEMPLATE = "system"  # the packaged template whose inputs an org template may use


async def create(session: Session, org_id: UUID, data: TemplateCreate) -> dict:
    validate_org_template(TEMPLATE, data.body)
    template = await repository.insert_template(session.conn, org_id, data.name, data.description)
    if template is None:
        raise Conflict(f"a prompt template named '{data.name}' already exists", code="template_exists")
    await repository.insert_version(session.conn, template, 1, data.body, data.note)
    return await get(session, template["id"])


async def get(session: Session, template_id: UUID) -> dict:
    template = await repository.get(session.conn, template_id)
    if template is None:
        raise NotFound("prompt template not found")
    return template


async def list_templates(session: Session, org_id: UUID, params: PageParams) -> list[dict]:
    return await repository.page(session.conn, org_id, params)


async def add_version(session: Session, template_id: UUID, body: str, note: str) -> dict:
    validate_org_template(TEMPLATE, body)
    template = await repository.bump_version(session.conn, template_id)
    if template is None:
        raise NotFound("prompt template not found")
    await repository.insert_version(session.conn, template, template["current_version"], body, note)
    return await get(session, template_id)


async def version(session: Session, template_id: UUID, number: int) -> dict:
    await get(session, template_id)
    found = await repository.version(session.conn, template_id, number)
    if found is None:
        raise NotFound(f"version {number} not found")
    return found


async def versions(session: Session, template_id: UUID) -> list[dict]:
    await get(session, template_id)
    return await repository.versions(session.conn, template_id, MAX_VERSIONS)


async def rollback(session: Session, template_id: UUID, number: int) -> dict:
    old = await version(session, template_id, number)
    return await add_version(session, template_id, old["body"], f"rollback to v{number}")


async def diff(session: Session, template_id: UUID, from_version: int, to_version: int) -> dict:
    a, b = await version(session, template_id, from_version), await version(session, template_id, to_version)
    lines = list(difflib.unified_diff(a["body"].splitlines(), b["body"].splitlines(), fromfile=f"v{from_version}",
                                      tofile=f"v{to_version}", lineterm=""))
    return {"from_version": from_version, "to_version": to_version, "diff": "\n".join(lines) + "\n" if lines else ""}


def _now(timezone: str) -> str:
    try:
        zone = ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return datetime.now(UTC).astimezone(zone).strftime("%Y-%m-%d %H:%M ") + zone.key


async def test_run(tx: Transactions, template_id: UUID, data: TestRun) -> dict:
    async with tx() as session:
        template = await get(session, template_id)
        chosen = await version(session, template_id, data.version or template["current_version"])
        agent = await agents_service.get(session, data.agent_id)
        business = await repository.organization_name(session.conn, tx.org_id)
    system = render_org(TEMPLATE, chosen["body"], agent_name=agent["name"], business_name=business,
                        customer_name=data.customer_name, instructions=None, now=_now(agent["timezone"]))
    result = await llm_client.chat([{"role": "system", "content": system}, {"role": "user", "content": data.message}],
                                   agent["model"], max_tokens=agent["max_tokens"],
                                   temperature=float(agent["temperature"]))
    async with tx() as session:
        await chat_repository.insert_usage(session.conn, {
            "organization_id": tx.org_id, "kind": "chat", "model": result.model, "agent_id": agent["id"],
            "prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens,
            "latency_ms": result.latency_ms, "api_key_id": tx.principal.api_key_id,
            "metadata": {"prompt_test": True, "template_id": str(template_id), "version": chosen["version"]}})
    return {"version": chosen["version"], "system_prompt": system, "answer": result.text, "model": result.model,
            "prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens,
            "latency_ms": result.latency_ms}


async def delete(session: Session, template_id: UUID) -> None:
    if not await repository.delete(session.conn, template_id):
        raise NotFound("prompt template not found")
