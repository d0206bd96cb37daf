"""Memory under RLS: another organization's contact memories are never returned or touched."""
from __future__ import annotations

import uuid

from api.memory import service as memory
from tests.support.memory import (
    FAKE_LLM,
    add_turns,
    create_agent,
    create_contact,
    create_conversation,
    facts_reply,
    in_org,
    memories,
    run,
)
from api.memory import jobs as memory_jobs


def test_memories_of_another_organization_are_invisible(client, new_tenant, admin_conn):
    alice, bob = new_tenant("Alice Co"), new_tenant("Bob Co")
    agent = create_agent(client, alice)
    contact = create_contact(client, alice)
    conv = create_conversation(admin_conn, agent, contact)
    add_turns(admin_conn, conv, [("user", "Minha senha do portal é girassol"), ("assistant", "Anotado")])
    FAKE_LLM.script("senha do portal é girassol", facts_reply(("portal_password_hint", "girassol", 0.9)))
    assert memory_jobs.index_turns(alice.org_id, conv) == 2
    assert memory_jobs.extract_facts(alice.org_id, conv) == 1
    FAKE_LLM.script("senha do portal é girassol", "Resumo: cliente falou da senha.")
    assert memory_jobs.summarize(alice.org_id, conv) is True
    contact_id = uuid.UUID(contact["id"])

    # Alice's organization sees its memories...
    assert run(in_org(alice.org_id, memory.retrieve, contact_id, "senha do portal", 10))
    assert run(in_org(alice.org_id, memory.current_facts, contact_id))
    # ...Bob's, asking for Alice's contact by id, gets nothing back.
    assert run(in_org(bob.org_id, memory.retrieve, contact_id, "senha do portal", 10)) == []
    assert run(in_org(bob.org_id, memory.current_facts, contact_id)) == []
    assert run(in_org(bob.org_id, memory.session_summaries, contact_id, 10)) == []
    assert run(in_org(bob.org_id, memory.forget_plan, contact_id)) == ([], [])


def test_tasks_for_another_organizations_conversation_do_nothing(client, new_tenant, admin_conn):
    alice, bob = new_tenant("Alice Co"), new_tenant("Bob Co")
    contact = create_contact(client, alice)
    conv = create_conversation(admin_conn, create_agent(client, alice), contact)
    add_turns(admin_conn, conv, [("user", "Moro em Curitiba")])
    FAKE_LLM.script("Moro em Curitiba", facts_reply(("city", "Curitiba", 0.9)))
    # A task carrying Bob's organization id runs under Bob's RLS: Alice's rows are not there.
    assert memory_jobs.index_turns(bob.org_id, conv) == 0
    assert memory_jobs.extract_facts(bob.org_id, conv) == 0
    assert memory_jobs.summarize(bob.org_id, conv) is False
    assert memories(admin_conn, contact["id"]) == []


def test_a_user_of_another_organization_cannot_read_memories(client, new_tenant, admin_conn):
    from api.core.config import get_settings
    from api.core.db import async_pool, unit_of_work
    from api.core.principal import user_principal
    alice, bob = new_tenant("Alice Co"), new_tenant("Bob Co")
    contact = create_contact(client, alice)
    conv = create_conversation(admin_conn, create_agent(client, alice), contact)
    add_turns(admin_conn, conv, [("user", "Meu aniversário é em março")])
    memory_jobs.index_turns(alice.org_id, conv)

    async def as_user(user_id):
        pool = async_pool(get_settings().database_url, min_size=1, max_size=1)
        await pool.open(wait=True)
        try:
            principal = user_principal({"sub": str(user_id), "role": "authenticated"})
            async with unit_of_work(pool, principal) as session:
                return await memory.retrieve(session, uuid.UUID(contact["id"]), "aniversário", 5)
        finally:
            await pool.close()
    assert len(run(as_user(alice.user_id))) == 1
    assert run(as_user(bob.user_id)) == []
