"""Factories and the session-wide fake hosted LLM for the memory tests.

Importing this module (at test collection, before any fixture starts the Celery worker)
starts one fake OpenAI server and points the `gpt-4o-mini` deployment of infra/litellm.yaml
at it through OPENAI_API_KEY / OPENAI_API_BASE, so the worker process inherits them.
Agents in these tests use MODEL; each test scripts the replies it needs (`FAKE_LLM.script`).
"""
from __future__ import annotations

import asyncio
import json
import os
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.types.json import Jsonb

from tests.fakes.openai_server import FakeOpenAIServer

MODEL = "gpt-4o-mini"
FAKE_LLM = FakeOpenAIServer().start()
os.environ["OPENAI_API_KEY"] = "sk-fake-memory-tests"
os.environ["OPENAI_API_BASE"] = FAKE_LLM.base_url


def create_agent(client, tenant, **fields) -> dict:
    body = {"name": "Ana", "model": MODEL, **fields}
    resp = client.post("/v1/agents", json=body, headers=tenant.headers)
    assert resp.status_code == 201, resp.text
    return resp.json()


def create_contact(client, tenant, name: str = "Maria") -> dict:
    resp = client.post("/v1/contacts", json={"name": name, "external_id": uuid.uuid4().hex}, headers=tenant.headers)
    assert resp.status_code == 201, resp.text
    return resp.json()


def create_conversation(admin_conn: psycopg.Connection, agent: dict, contact: dict) -> str:
    row = admin_conn.execute(
        "insert into public.conversations (organization_id, agent_id, contact_id) values (%s, %s, %s) returning id",
        [agent["organization_id"], agent["id"], contact["id"]]).fetchone()
    return str(row[0])


def add_turns(admin_conn: psycopg.Connection, conversation_id: str, turns: list[tuple[str, str]], *,
              at: datetime | None = None, speaker: str | None = None) -> list[str]:
    """Store (role, content) turns as the chat code would; returns their message ids."""
    conv = admin_conn.execute("select organization_id, contact_id from public.conversations where id = %s",
                              [conversation_id]).fetchone()
    start = at or datetime.now(UTC)
    ids = []
    for i, (role, content) in enumerate(turns):
        row = admin_conn.execute(
            "insert into public.conversation_history (organization_id, conversation_id, contact_id, role, content, "
            "metadata, created_at) values (%s, %s, %s, %s, %s, %s, %s) returning id",
            [conv[0], conversation_id, conv[1], role, content, Jsonb({"speaker": speaker} if speaker else {}),
             start + timedelta(seconds=i)]).fetchone()
        ids.append(str(row[0]))
    return ids


def memories(admin_conn: psycopg.Connection, contact_id: str, kind: str | None = None) -> list[dict]:
    cur = admin_conn.cursor(row_factory=psycopg.rows.dict_row)
    return cur.execute("select * from public.memories where contact_id = %s and (%s::text is null or kind = %s) "
                       "order by created_at, id", [contact_id, kind, kind]).fetchall()


def facts_reply(*facts: tuple[str, str, float]) -> str:
    """What a model would answer to prompts/extract_facts.j2, wrapped the way small models do."""
    body = json.dumps([{"key": k, "value": v, "confidence": c} for k, v, c in facts], ensure_ascii=False)
    return f"Here are the facts:\n```json\n{body}\n```"


def run(coro):
    return asyncio.run(coro)


async def in_org(org_id: str, fn, *args, **kwargs):
    """Run an async memory-service call as a worker principal of `org_id` (under RLS)."""
    from api.core.config import get_settings
    from api.core.db import async_pool, unit_of_work
    from api.core.principal import org_principal
    pool = async_pool(get_settings().database_url, min_size=1, max_size=1)
    await pool.open(wait=True)
    try:
        async with unit_of_work(pool, org_principal(uuid.UUID(org_id), "admin", kind="api_key")) as session:
            return await fn(session, *args, **kwargs)
    finally:
        await pool.close()
