"""A returning customer: what they said in one conversation is in the prompt of the next.

Session 1 goes through the chat API; the chat code enqueues workers.memory.after_turn, the
real worker indexes the turns and, once the conversation is idle (1 s for this agent),
extracts facts with the fake hosted model. Session 2 is a new conversation of the same
contact: the prompt the fake model receives must contain the remembered fact and turn.
"""
from __future__ import annotations

from tests.conftest import wait_for
from tests.support.memory import FAKE_LLM, create_agent, create_contact, facts_reply, memories


def _open_conversation(client, tenant, agent, contact) -> str:
    resp = client.post(f"/v1/agents/{agent['id']}/conversations", json={"contact_id": contact["id"]},
                       headers=tenant.headers)
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def _send(client, tenant, agent, conversation_id: str, content: str) -> dict:
    resp = client.post(f"/v1/agents/{agent['id']}/conversations/{conversation_id}/messages",
                       json={"content": content}, headers=tenant.headers)
    assert resp.status_code == 201, resp.text
    return resp.json()


def _prompt_text(request: dict) -> str:
    return "\n".join(str(m.get("content") or "") for m in request["body"]["messages"])


def test_fact_from_session_one_is_in_the_prompt_of_session_two(client, new_tenant, admin_conn, celery_worker):
    tenant = new_tenant()
    agent = create_agent(client, tenant, settings={"memory_idle_s": 1, "memory_every_n_turns": 50})
    contact = create_contact(client, tenant, name="Joana")
    # Only the extraction prompt lists turns as "customer: ..."; the chat prompt does not.
    FAKE_LLM.script("customer: Eu sou vegetariana e moro em Recife",
                    facts_reply(("diet", "vegetariana", 1.0), ("city", "Recife", 0.9)))

    first = _open_conversation(client, tenant, agent, contact)
    _send(client, tenant, agent, first, "Eu sou vegetariana e moro em Recife")
    wait_for(lambda: len(memories(admin_conn, contact["id"], "fact")) == 2, timeout=180,
             message="facts extracted by the memory worker")
    wait_for(lambda: len(memories(admin_conn, contact["id"], "turn")) == 2, message="turns indexed")

    second = _open_conversation(client, tenant, agent, contact)
    assert second != first
    _send(client, tenant, agent, second, "Que prato vocês me recomendam hoje?")
    asked = [r for r in FAKE_LLM.requests if "Que prato vocês me recomendam hoje?" in _prompt_text(r)]
    assert asked, "the chat request never reached the model"
    prompt = _prompt_text(asked[-1])
    assert "vegetariana" in prompt
    assert "Recife" in prompt  # the facts
    assert "Eu sou vegetariana e moro em Recife" in prompt  # the remembered turn of session 1
