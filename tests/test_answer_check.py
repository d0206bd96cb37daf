"""The answer check (api/chat/grounding.py): before the local model answers from knowledge
excerpts it is asked whether they answer the question; below the threshold the agent says it
does not have the information, cites nothing, and a channel hands the conversation to a person.

The real llama.cpp model of the test suite (SmolLM2) judges; the agent's
`settings.answer_check_threshold` decides the outcome (50: always refuses, -50: never), so the
plumbing is tested with a real margin. How well the margin separates answerable from unanswerable
questions with the shipped model is a benchmark (bench/answers.py --answer-check observe).
"""
from __future__ import annotations

import math

import pytest

from api.chat import grounding
from tests.conftest import wait_for
from tests.support.chat import LOCAL, add_knowledge, create_agent, messages_of, open_conversation, send, stream_send
from tests.test_channel_handoff import _conversation_number, _outgoing
from tests.test_channels import ACCOUNT, chatwoot, make_integration, message_created, post  # noqa: F401

KNOWLEDGE = {"Trocas": "Política de trocas: o cliente pode trocar o produto em até 30 dias, com a nota fiscal."}


def test_judging_leaves_the_next_answer_as_it_would_have_been():
    """yes_no evaluates after the longest prefix it shares with the context's last prompt and
    leaves the prompt's tokens in the cache: the margin is the same however the cache was left,
    and the answer generated next is the one generated without it."""
    from api.llm.llama_engine import Run, get_engine
    engine = get_engine()
    messages = [{"role": "system", "content": "You answer in one short sentence."},
                {"role": "user", "content": "Excerpt: returns are accepted within 30 days.\n\nQuestion: "
                                            "how long do I have to return a product?"}]
    params = {"max_tokens": 12, "temperature": 0.0}

    def generate() -> str:
        return "".join(engine.generate(messages, params, Run("test", 60)))

    before = generate()
    margin = engine.yes_no(messages, grounding.QUESTION, timeout_s=60)
    assert math.isfinite(margin)
    assert generate() == before
    other = [messages[0], {"role": "user", "content": "Something else entirely."}]
    engine.yes_no(other, grounding.QUESTION, timeout_s=60)  # the cache now holds another prompt
    assert engine.yes_no(messages, grounding.QUESTION, timeout_s=60) == pytest.approx(margin, abs=1e-3)
    assert engine.yes_no(messages, grounding.QUESTION, timeout_s=60) == pytest.approx(margin, abs=1e-3)
    assert generate() == before


def _local_agent(client, tenant, kb: str | None, **settings) -> dict:
    return create_agent(client, tenant, model=LOCAL, max_tokens=12, temperature=0,
                        knowledge_base_ids=[kb] if kb else [], settings=settings)


def _ask_as_returning_customer(client, tenant, agent: dict, admin_conn, question: str) -> dict:
    """`question` from a customer whose earlier conversation with the agent is indexed as memories."""
    from api.memory import jobs as memory_jobs
    from tests.support.memory import add_turns
    first = open_conversation(client, tenant, agent["id"], contact_external_id="cliente-que-volta")
    add_turns(admin_conn, first["id"], [("user", "Eu calço 41 e prefiro tênis preto."), ("assistant", "Anotado!")])
    memory_jobs.index_turns(tenant.org_id, first["id"])
    second = open_conversation(client, tenant, agent["id"], contact_external_id="cliente-que-volta")
    return send(client, tenant, agent["id"], second["id"], question).json()


def _stored_check(admin_conn, message_id: str):
    return admin_conn.execute("select metadata->'answer_check' from public.conversation_history where id = %s",
                              [message_id]).fetchone()[0]


def test_below_the_threshold_the_agent_says_it_does_not_know(client, new_tenant, celery_worker, admin_conn):
    t = new_tenant()
    kb = add_knowledge(client, t, KNOWLEDGE)
    agent = _local_agent(client, t, kb, answer_check_threshold=50)
    conv = open_conversation(client, t, agent["id"])
    resp = send(client, t, agent["id"], conv["id"], "Vocês vendem meias?")
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["message"]["content"] == grounding.NOT_FOUND["pt"]
    assert body["citations"] == []
    check = _stored_check(admin_conn, body["message"]["id"])
    assert check["answerable"] is False and check["threshold"] == 50 and math.isfinite(check["margin"])
    assert admin_conn.execute("select count(*) from public.citations where message_id = %s",
                              [body["message"]["id"]]).fetchone()[0] == 0
    # Streamed, and in the customer's language.
    status, events = stream_send(client, t, agent["id"], conv["id"], "Do you sell socks? What is the price?")
    assert status == 200, events
    assert [name for name, _ in events] == ["delta", "citations", "done"], events
    assert events[0][1]["content"] == grounding.NOT_FOUND["en"]
    assert events[1][1] == {"citations": []}
    assert messages_of(admin_conn, conv["id"])[-1][1] == grounding.NOT_FOUND["en"]


def test_above_the_threshold_the_model_answers_and_cites(client, new_tenant, celery_worker, admin_conn):
    t = new_tenant()
    kb = add_knowledge(client, t, KNOWLEDGE)
    agent = _local_agent(client, t, kb, answer_check_threshold=-50)
    conv = open_conversation(client, t, agent["id"])
    body = send(client, t, agent["id"], conv["id"], "Em quantos dias posso trocar?").json()
    assert body["message"]["content"] not in grounding.NOT_FOUND.values()
    assert body["citations"] and body["citations"][0]["document_title"] == "Trocas"
    check = _stored_check(admin_conn, body["message"]["id"])
    assert check["answerable"] is True and check["threshold"] == -50


def test_a_returning_customer_is_judged_with_what_is_remembered(client, new_tenant, celery_worker, admin_conn):
    # With memories of the customer in the prompt the answer may be in them ("qual número eu
    # calço?"), so the check asks about the excerpts *or* the memories (QUESTION_WITH_MEMORY), with
    # the threshold measured for that question (none for SmolLM2: here the agent sets one).
    t = new_tenant()
    kb = add_knowledge(client, t, KNOWLEDGE)
    agent = _local_agent(client, t, kb, answer_check_threshold=50)
    body = _ask_as_returning_customer(client, t, agent, admin_conn, "Vocês vendem meias?")
    assert body["message"]["content"] == grounding.NOT_FOUND["pt"]
    check = _stored_check(admin_conn, body["message"]["id"])
    assert check["with_memory"] is True and check["threshold"] == 50
    newcomer = open_conversation(client, t, agent["id"])
    body = send(client, t, agent["id"], newcomer["id"], "Vocês vendem meias?").json()
    assert _stored_check(admin_conn, body["message"]["id"])["with_memory"] is False
    # Without a configured threshold, a model with none measured for the question is not asked.
    assert grounding.threshold_for("smollm2", {}, kind="knowledge+memory") is None


def test_without_a_knowledge_base_the_instructions_and_conversation_are_judged(client, new_tenant, celery_worker,
                                                                              admin_conn):
    # No excerpts, no memories: the model is asked whether the company's instructions or the
    # conversation answer (QUESTION_WITHOUT_KNOWLEDGE); a greeting is not judged at all.
    t = new_tenant()
    agent = _local_agent(client, t, None, answer_check_threshold=50)
    conv = open_conversation(client, t, agent["id"])
    body = send(client, t, agent["id"], conv["id"], "Vocês vendem meias?").json()
    assert body["message"]["content"] == grounding.NOT_FOUND["pt"]
    check = _stored_check(admin_conn, body["message"]["id"])
    assert check["kind"] == "instructions" and check["answerable"] is False and check["with_memory"] is False
    body = send(client, t, agent["id"], conv["id"], "ok, obrigado!").json()
    assert body["message"]["content"] not in grounding.NOT_FOUND.values()
    assert _stored_check(admin_conn, body["message"]["id"]) is None
    generous = _local_agent(client, t, None, answer_check_threshold=-50)
    conv = open_conversation(client, t, generous["id"])
    body = send(client, t, generous["id"], conv["id"], "Vocês vendem meias?").json()
    assert body["message"]["content"] not in grounding.NOT_FOUND.values()
    assert _stored_check(admin_conn, body["message"]["id"])["kind"] == "instructions"
    # Measured for the packaged 1.5B only; SmolLM2 (the suite's model) has none unless configured.
    assert grounding.threshold_for("qwen1.5b", {}, kind="instructions") == 1.0
    assert grounding.threshold_for("smollm2", {}, kind="instructions") is None


def test_without_a_knowledge_base_a_returning_customer_is_judged_with_what_is_remembered(
        client, new_tenant, celery_worker, admin_conn):
    # An agent with no knowledge base, a customer it remembers: memories but no excerpts. The model
    # is asked whether the instructions, the memories or the conversation answer
    # (QUESTION_MEMORY_ONLY); a refusal is handed off with that reason.
    from api.channels import handoff
    t = new_tenant()
    agent = _local_agent(client, t, None, answer_check_threshold=50)
    body = _ask_as_returning_customer(client, t, agent, admin_conn, "Vocês vendem meias?")
    assert body["message"]["content"] == grounding.NOT_FOUND["pt"] and body["citations"] == []
    check = _stored_check(admin_conn, body["message"]["id"])
    assert check["kind"] == "memory" and check["with_memory"] is True and check["answerable"] is False
    assert handoff.not_found({"metadata": {"answer_check": check}}) == (
        "neither the agent's instructions nor what it remembers of the customer answer the question")
    assert grounding.threshold_for("smollm2", {}, kind="memory") is None
    assert grounding.threshold_for("qwen1.5b", {}, kind="memory") == 1.0
    # Measured on Portuguese and English customer-service messages (held out in both).
    assert grounding.threshold_for("qwen1.5b", {}, kind="memory", language="en") == 1.0
    assert grounding.threshold_for("qwen1.5b", {"answer_check": False}, kind="memory", language="en") is None
    assert grounding.threshold_for("qwen1.5b", {"answer_check_threshold": 0.5}, kind="memory", language="en") == 0.5
    assert grounding.threshold_for("qwen1.5b", {}, kind="instructions", language="en") == 1.0


@pytest.mark.parametrize("message, language", [
    ("maple crossing sunday hours?", "en"), ("whats ur phone number pls", "en"), ("do u sell video games", "en"),
    ("who owns northgate?", "en"), ("Why does Nate like turtles as pets?", "en"), ("Hello!", "en"),
    ("meus pontos do Clube expiram?", "pt"), ("a transportadora entrega sabado?", "pt"), ("oi", "pt"),
    ("pode repetir o prazo?", "pt"), ("ok", "pt"),  # undecided: the service's main language
])
def test_the_reply_is_in_the_language_the_customer_writes(message, language):
    """Short chat messages often hold no function word; the not-found reply and the threshold's
    language follow the message (api/memory/text.language with chat words)."""
    assert grounding._language(message) == language
    assert grounding.not_found_text(message) == grounding.NOT_FOUND[language]


def test_every_benchmark_question_is_taken_for_its_language():
    """The help-center questions of both languages (bench/data_answers, written as customers write)."""
    import json
    from pathlib import Path
    data = Path(__file__).resolve().parents[1] / "bench" / "data_answers"
    for language in ("pt", "en"):
        asked = [q["question"] for q in json.loads((data / f"questions_{language}.json").read_text())["questions"]]
        asked += [q["question"] for s in json.loads((data / f"instructions_{language}.json").read_text())["sets"]
                  for q in s["questions"]]
        wrong = [m for m in asked if grounding._language(m) != language]
        assert not wrong, (language, wrong)


def test_a_channel_hands_off_with_the_reason_the_check_gave():
    from api.channels import handoff
    refused = {"answerable": False, "margin": 0.2, "threshold": 1.0, "ms": 5}
    assert handoff.not_found({"metadata": {"answer_check": refused | {"kind": "instructions"}}}) == (
        "the agent's instructions do not answer the question")
    assert handoff.not_found({"metadata": {"answer_check": refused | {"kind": "knowledge"}}}) == (
        "the knowledge base does not answer the question")
    assert handoff.not_found({"metadata": {"answer_check": refused}}) == (  # stored before `kind` existed
        "the knowledge base does not answer the question")
    assert handoff.not_found({"metadata": {"answer_check": refused | {"answerable": True}}}) is None
    assert handoff.not_found({"metadata": {}}) is None


def test_no_check_when_turned_off(client, new_tenant, celery_worker, admin_conn):
    t = new_tenant()
    kb = add_knowledge(client, t, KNOWLEDGE)
    for agent in (_local_agent(client, t, None, answer_check=False, answer_check_threshold=50),
                  _local_agent(client, t, kb, answer_check=False, answer_check_threshold=50)):
        conv = open_conversation(client, t, agent["id"])
        body = send(client, t, agent["id"], conv["id"], "Vocês vendem meias?").json()
        assert body["message"]["content"] not in grounding.NOT_FOUND.values()
        assert _stored_check(admin_conn, body["message"]["id"]) is None


def test_a_greeting_or_thanks_is_answered_not_judged(client, new_tenant, celery_worker, admin_conn):
    # "oi" searched like a question brought unrelated excerpts, and the check (here: always refuse)
    # said "não encontrei" to it; messages that ask nothing get no excerpts, so nothing to judge.
    t = new_tenant()
    kb = add_knowledge(client, t, KNOWLEDGE)
    agent = _local_agent(client, t, kb, answer_check_threshold=50)
    conv = open_conversation(client, t, agent["id"])
    for message in ("oi, bom dia!", "Obrigadaaa 🙏", "Thanks a lot!"):
        body = send(client, t, agent["id"], conv["id"], message).json()
        assert body["message"]["content"] not in grounding.NOT_FOUND.values(), message
        assert body["citations"] == [] and _stored_check(admin_conn, body["message"]["id"]) is None, message
    # A question in the same conversation is searched and judged as always.
    body = send(client, t, agent["id"], conv["id"], "ok, e vocês vendem meias?").json()
    assert body["message"]["content"] == grounding.NOT_FOUND["pt"]
    assert _stored_check(admin_conn, body["message"]["id"])["answerable"] is False


def test_the_check_settings_are_validated(client, new_tenant):
    t = new_tenant()
    for settings, message in (({"answer_check_threshold": "alto"}, "answer_check_threshold must be a number"),
                              ({"answer_check_threshold": 1e9}, "between -50 and 50"),
                              ({"answer_check": "sim"}, "answer_check must be true or false")):
        resp = client.post("/v1/agents", headers=t.headers, json={"name": "x", "settings": settings})
        assert resp.status_code == 422, resp.text
        assert message in resp.text
    agent = create_agent(client, t, model=LOCAL)
    resp = client.patch(f"/v1/agents/{agent['id']}", headers=t.headers, json={"settings": {"answer_check": 1}})
    assert resp.status_code == 422, resp.text


def test_a_channel_hands_off_what_the_knowledge_base_does_not_answer(client, new_tenant, chatwoot, admin_conn,
                                                                     celery_worker):
    t = new_tenant()
    kb = add_knowledge(client, t, KNOWLEDGE)
    integration = make_integration(client, t, chatwoot)
    resp = client.patch(f"/v1/agents/{integration['agent_id']}", headers=t.headers, json={
        "model": LOCAL, "max_tokens": 12, "knowledge_base_ids": [kb], "settings": {"answer_check_threshold": 50}})
    assert resp.status_code == 200, resp.text
    conversation = _conversation_number()
    toggle_path = f"/api/v1/accounts/{ACCOUNT}/conversations/{conversation}/toggle_status"
    # A greeting is answered, not judged: the conversation stays with the bot (api/chat/small_talk.py).
    post(client, integration, message_created(conversation, content="Oi, boa tarde!"), token=integration["token"])
    [greeted] = wait_for(lambda: _outgoing(chatwoot, conversation, private=False), 120, message="greeting answered")
    assert greeted.json()["content"] not in (*grounding.HANDED_OFF.values(), *grounding.NOT_FOUND.values())
    assert not chatwoot.to(toggle_path)
    post(client, integration, message_created(conversation, content="Qual a senha do wifi da loja?"),
         token=integration["token"])
    wait_for(lambda: chatwoot.to(toggle_path), 120, message="handed off in Chatwoot")
    [note] = _outgoing(chatwoot, conversation, private=True)
    assert "the knowledge base does not answer the question" in note.json()["content"]
    told = wait_for(lambda: _outgoing(chatwoot, conversation, private=False)[1:], 30, message="customer told")
    assert [m.json()["content"] for m in told] == [grounding.HANDED_OFF["pt"]]
    # The provider is told first and the conversation marked after (api/channels/reply.hand_off).
    [reason] = wait_for(lambda: admin_conn.execute("select handoff_reason from public.conversations where "
                                                   "organization_id = %s and handoff_at is not null",
                                                   [t.org_id]).fetchone(), 30, message="conversation marked")
    assert reason == "the knowledge base does not answer the question"


def test_knowledge_gaps_list_what_the_knowledge_base_did_not_answer(client, new_tenant, celery_worker, admin_conn):
    """GET /v1/analytics/knowledge-gaps: the questions answered "not found", newest first, counted
    per agent and filterable by agent; answered questions are not gaps; another organization sees
    none of them; a bad range is a 422."""
    t = new_tenant()
    kb = add_knowledge(client, t, KNOWLEDGE)
    refusing = _local_agent(client, t, kb, answer_check_threshold=50)
    answering = _local_agent(client, t, kb, answer_check_threshold=-50)
    for agent, question in ((refusing, "Vocês vendem meias?"), (answering, "Em quantos dias posso trocar?"),
                            (refusing, "Qual a senha do wifi?")):
        conv = open_conversation(client, t, agent["id"])
        assert send(client, t, agent["id"], conv["id"], question).status_code == 201
    resp = client.get("/v1/analytics/knowledge-gaps", headers=t.headers)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["total"] == 2
    assert [q["question"] for q in body["questions"]] == ["Qual a senha do wifi?", "Vocês vendem meias?"]
    assert all(q["agent_id"] == refusing["id"] and q["agent_name"] == refusing["name"] for q in body["questions"])
    assert body["by_agent"] == [{"agent_id": refusing["id"], "agent_name": refusing["name"], "count": 2}]
    only = client.get("/v1/analytics/knowledge-gaps", params={"agent_id": answering["id"]}, headers=t.headers).json()
    assert only["total"] == 0 and only["questions"] == []
    assert len(client.get("/v1/analytics/knowledge-gaps", params={"limit": 1},
                          headers=t.headers).json()["questions"]) == 1
    other = new_tenant()
    seen = client.get("/v1/analytics/knowledge-gaps", headers=other.headers).json()
    assert seen["total"] == 0 and seen["questions"] == []
    assert client.get("/v1/analytics/knowledge-gaps", params={"start": "2026-02-01", "end": "2026-01-01"},
                      headers=t.headers).status_code == 422
    assert client.get("/v1/analytics/knowledge-gaps", params={"limit": 0}, headers=t.headers).status_code == 422
    # The report's filter implies the partial index's predicate, so the index can serve it (the
    # planner prefers it to reading every row once tables are big; here the table is tiny, so
    # sequential scans are taken away to see that it can).
    from api.conversations.repository import _gaps_where
    filters = _gaps_where().replace("%(agent)s::uuid is null or c.agent_id = %(agent)s::uuid", "true")
    with admin_conn.transaction():
        admin_conn.execute("set local enable_seqscan = off")
        plan = "\n".join(r[0] for r in admin_conn.execute(
            f"explain select 1 from public.conversation_history a where {filters}",
            {"org": t.org_id, "start": "2026-01-01", "end": "2026-12-31", "tz": "UTC"}).fetchall())
    assert "conversation_history_knowledge_gaps_idx" in plan, plan
