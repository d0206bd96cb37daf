"""The memory benchmark's SQL for arranging LoCoMo data (organization as superuser, the rest
under the organization's RLS, as the chat code would store it)."""
from __future__ import annotations

from datetime import datetime
from uuid import UUID

from psycopg.types.json import Jsonb


def create_org_and_agent(admin_conn) -> tuple[UUID, UUID]:
    org_id = admin_conn.execute("insert into public.organizations (name, slug) values ('LoCoMo', 'locomo') "
                                "returning id").fetchone()[0]
    agent_id = admin_conn.execute("insert into public.agents (organization_id, name, model) "
                                  "values (%s, 'bench', 'renum-local') returning id", [org_id]).fetchone()[0]
    return org_id, agent_id


def create_contact(conn, org_id: UUID, external_id: str, name: str) -> UUID:
    return conn.execute("insert into public.contacts (organization_id, external_id, name) values (%s, %s, %s) "
                        "returning id", [org_id, external_id, name]).fetchone()["id"]


def create_conversation(conn, org_id: UUID, agent_id: UUID, contact_id: UUID, at: datetime) -> UUID:
    return conn.execute(
        "insert into public.conversations (organization_id, agent_id, contact_id, channel, created_at, "
        "last_message_at) values (%s, %s, %s, 'locomo', %s, %s) returning id",
        [org_id, agent_id, contact_id, at, at]).fetchone()["id"]


def insert_message(conn, org_id: UUID, conversation_id: UUID, contact_id: UUID, role: str, content: str,
                   metadata: dict, at: datetime) -> UUID:
    return conn.execute(
        "insert into public.conversation_history (organization_id, conversation_id, contact_id, role, content, "
        "metadata, created_at) values (%s, %s, %s, %s, %s, %s, %s) returning id",
        [org_id, conversation_id, contact_id, role, content, Jsonb(metadata), at]).fetchone()["id"]


def analyze(admin_conn) -> None:
    admin_conn.execute("analyze public.memories")
    admin_conn.execute("analyze public.conversation_history")
