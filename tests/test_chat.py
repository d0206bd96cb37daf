"""Chat end to end: real Postgres/Redis/Celery, the real local model, hosted models faked over HTTP."""
from __future__ import annotations

import threading
import time
import uuid

import httpx
import pytest
import redis as redis_sync

from api.chat.lock import lock_key
from api.core.config import get_settings
from tests.support.chat import (DOWN, HOSTED, LOCAL, SLOW, THINKER, base_url, create_agent, hosted,  # noqa: F401
                                messages_of, open_conversation, send, stream_send)
from tests.conftest import wait_for

pytestmark = pytest.mark.usefixtures("hosted")


@pytest.fixture
def chat(client, new_tenant):
    """A tenant, a hosted-model agent and an open conversation."""
    t = new_tenant()
    agent = create_agent(client, t)
    conv = open_conversation(client, t, agent["id"], contact_name="Maria")
    return t, agent, conv


def test_answer_is_stored_with_usage_and_the_model_that_answered(client, chat, admin_conn, hosted):
    t, agent, conv = chat
    resp = send(client, t, agent["id"], conv["id"], "Qual o horário da loja?")
    assert resp.status_code == 201, resp.text
    body = resp.json()
    answer = body["message"]
    assert answer["role"] == "assistant"
    assert answer["content"].startswith("echo: ")
    assert "Qual o horário da loja?" in answer["content"]  # the fake echoes the rendered prompt
    assert answer["reply_to"] == body["user_message"]["id"]
    assert answer["model"] == HOSTED
    assert body["model"] == HOSTED
    assert body["replayed"] is False
    assert isinstance(body["latency_ms"], int)
    assert body["usage"]["completion_tokens"] == len(answer["content"].split())
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
    # What the model saw: the agent's system prompt (with the customer's name) and the question.
    sent = hosted.requests[-1]["body"]["messages"]
    assert sent[0]["role"] == "system"
    assert "Maria" in sent[0]["content"]
    assert agent["name"] in sent[0]["content"]
    assert sent[-1]["role"] == "user"
    assert "Qual o horário da loja?" in sent[-1]["content"]
    assert [r[0] for r in messages_of(admin_conn, conv["id"])] == ["user", "assistant"]
    usage = admin_conn.execute(
        "select kind, model, prompt_tokens, completion_tokens, latency_ms, agent_id, message_id, metadata "
        "from public.usage_events where conversation_id = %s", [conv["id"]]).fetchall()
    assert len(usage) == 1
    kind, model, prompt_tokens, completion_tokens, latency, agent_id, message_id, meta = usage[0]
    assert (kind, model, str(agent_id), str(message_id)) == ("chat", HOSTED, agent["id"], answer["id"])
    assert (prompt_tokens, completion_tokens) == (body["usage"]["prompt_tokens"], body["usage"]["completion_tokens"])
    assert latency is not None
    assert meta["requested_model"] == HOSTED
    assert "overhead_ms" in meta


def test_history_is_the_context_of_the_next_message(client, chat, hosted):
    t, agent, conv = chat
    assert send(client, t, agent["id"], conv["id"], "Meu nome é Joana.").status_code == 201
    assert send(client, t, agent["id"], conv["id"], "Como eu me chamo?").status_code == 201
    sent = hosted.requests[-1]["body"]["messages"]
    roles = [m["role"] for m in sent]
    assert roles == ["system", "user", "assistant", "user"]
    assert sent[1]["content"] == "Meu nome é Joana."
    assert sent[2]["content"].startswith("echo:")


def test_history_falls_back_to_postgres_when_redis_lost_it(client, chat, hosted, stack):
    t, agent, conv = chat
    assert send(client, t, agent["id"], conv["id"], "Primeira pergunta").status_code == 201
    r = redis_sync.Redis.from_url(stack["REDIS_URL"])
    assert r.delete(f"stm:{t.org_id}:{conv['id']}") == 1  # short-term memory expired/evicted
    assert send(client, t, agent["id"], conv["id"], "Segunda pergunta").status_code == 201
    assert [m["role"] for m in hosted.requests[-1]["body"]["messages"]] == ["system", "user", "assistant", "user"]
    assert r.llen(f"stm:{t.org_id}:{conv['id']}") == 4  # refilled from Postgres, then both new turns pushed


def test_retry_with_the_same_client_message_id_returns_the_stored_answer(client, chat, admin_conn, hosted):
    t, agent, conv = chat
    first = send(client, t, agent["id"], conv["id"], "Quero trocar um produto", client_message_id="m-1")
    assert first.status_code == 201, first.text
    calls = len(hosted.requests)
    again = send(client, t, agent["id"], conv["id"], "Quero trocar um produto", client_message_id="m-1")
    assert again.status_code == 200
    assert again.json()["replayed"] is True
    assert again.json()["message"]["id"] == first.json()["message"]["id"]
    assert again.json()["user_message"]["id"] == first.json()["user_message"]["id"]
    assert again.json()["usage"] == first.json()["usage"]
    status, events = stream_send(client, t, agent["id"], conv["id"], "Quero trocar um produto",
                                 client_message_id="m-1")
    assert status == 200
    assert events[-1][0] == "done"
    assert events[-1][1]["replayed"] is True
    assert "".join(e[1]["content"] for e in events if e[0] == "delta") == first.json()["message"]["content"]
    assert len(hosted.requests) == calls  # nothing generated again
    rows = messages_of(admin_conn, conv["id"])
    assert [(r[0], r[2]) for r in rows] == [("user", "m-1"), ("assistant", "m-1")]
    reused = send(client, t, agent["id"], conv["id"], "Outra coisa", client_message_id="m-1")
    assert reused.status_code == 409
    assert reused.json()["error"]["code"] == "client_message_id_reused"


def test_model_outage_is_503_and_keeps_the_message_for_a_retry(client, new_tenant, admin_conn):
    t = new_tenant()
    agent = create_agent(client, t, model=DOWN)
    conv = open_conversation(client, t, agent["id"])
    resp = send(client, t, agent["id"], conv["id"], "Alguém aí?", client_message_id="c-1")
    assert resp.status_code == 503
    assert resp.json()["error"]["code"] == "llm_unavailable"
    assert "saved" in resp.json()["error"]["message"]
    assert [r[0] for r in messages_of(admin_conn, conv["id"])] == ["user"]
    # The lock was released; once a model is back, the retry answers the stored message.
    client.patch(f"/v1/agents/{agent['id']}", json={"model": HOSTED}, headers=t.headers)
    retry = send(client, t, agent["id"], conv["id"], "Alguém aí?", client_message_id="c-1")
    assert retry.status_code == 201
    assert retry.json()["replayed"] is False
    assert [(r[0], r[2]) for r in messages_of(admin_conn, conv["id"])] == [("user", "c-1"), ("assistant", "c-1")]


def test_model_outage_while_streaming_is_an_error_event(client, new_tenant, admin_conn):
    t = new_tenant()
    agent = create_agent(client, t, model=DOWN)
    conv = open_conversation(client, t, agent["id"])
    status, events = stream_send(client, t, agent["id"], conv["id"], "Oi")
    assert status == 200
    assert [e[0] for e in events] == ["error"]
    assert events[0][1]["status"] == 503
    assert events[0][1]["code"] == "llm_unavailable"
    assert [r[0] for r in messages_of(admin_conn, conv["id"])] == ["user"]


def test_stream_shape_and_think_blocks_are_never_stored(client, new_tenant, admin_conn):
    t = new_tenant()
    agent = create_agent(client, t, model=THINKER)
    conv = open_conversation(client, t, agent["id"])
    status, events = stream_send(client, t, agent["id"], conv["id"], "Pode me ajudar?")
    assert status == 200
    names = [e[0] for e in events]
    assert names[-2:] == ["citations", "done"]
    assert set(names[:-2]) == {"delta"}
    streamed = "".join(e[1]["content"] for e in events if e[0] == "delta")
    done = events[-1][1]
    assert "<think>" not in streamed
    assert "pensando" not in streamed
    assert streamed.strip().startswith("echo:")
    assert done["model"] == THINKER
    assert done["usage"]["completion_tokens"] > 0
    assert done["replayed"] is False
    stored = messages_of(admin_conn, conv["id"])
    assert stored[-1][0] == "assistant"
    assert stored[-1][1] == streamed.strip()
    assert str(stored[-1][3]) == done["user_message_id"]
    plain = send(client, t, agent["id"], conv["id"], "E agora?")
    assert plain.status_code == 201
    assert "<think>" not in plain.json()["message"]["content"]
    assert plain.json()["message"]["content"].startswith("echo:")


def test_concurrent_send_to_a_busy_conversation_is_409(client, new_tenant, admin_conn, monkeypatch, stack):
    monkeypatch.setattr(get_settings(), "chat_lock_wait_s", 0.3)
    t = new_tenant()
    agent = create_agent(client, t, model=SLOW)
    conv = open_conversation(client, t, agent["id"])
    results = {}
    slow = threading.Thread(target=lambda: results.setdefault(
        "slow", send(client, t, agent["id"], conv["id"], "Demora?", client_message_id="s-1")))
    slow.start()
    r = redis_sync.Redis.from_url(stack["REDIS_URL"])
    deadline = time.monotonic() + 10
    while not r.exists(lock_key(t.org_id, conv["id"])) and time.monotonic() < deadline:
        time.sleep(0.02)
    busy = send(client, t, agent["id"], conv["id"], "E aí?")
    assert busy.status_code == 409
    assert busy.json()["error"]["code"] == "conversation_busy"
    assert busy.headers["retry-after"] == "1"
    slow.join(30)
    assert results["slow"].status_code == 504  # the slow model timed out; the lock is released
    assert not r.exists(lock_key(t.org_id, conv["id"]))
    assert [r_[1] for r_ in messages_of(admin_conn, conv["id"])] == ["Demora?"]  # the busy send stored nothing


def test_a_lock_held_elsewhere_makes_the_send_wait_then_409(client, chat, monkeypatch, stack):
    monkeypatch.setattr(get_settings(), "chat_lock_wait_s", 0.5)
    t, agent, conv = chat
    r = redis_sync.Redis.from_url(stack["REDIS_URL"])
    r.set(lock_key(t.org_id, conv["id"]), "another-process", px=5000)
    started = time.monotonic()
    assert send(client, t, agent["id"], conv["id"], "Oi").status_code == 409
    assert time.monotonic() - started >= 0.5
    assert r.get(lock_key(t.org_id, conv["id"])) == b"another-process"  # not ours to release
    r.delete(lock_key(t.org_id, conv["id"]))
    assert send(client, t, agent["id"], conv["id"], "Oi").status_code == 201


def test_contact_rate_limit_is_429(client, chat, monkeypatch):
    monkeypatch.setattr(get_settings(), "chat_messages_per_minute", 1)
    t, agent, conv = chat
    codes = [send(client, t, agent["id"], conv["id"], f"mensagem {i}").status_code for i in range(3)]
    assert codes[0] == 201
    assert 429 in codes  # 3 sends: one may land in the next minute's window
    limited = send(client, t, agent["id"], conv["id"], "de novo")
    if limited.status_code == 429:
        assert limited.headers["retry-after"]
        assert limited.json()["error"]["code"] == "rate_limited"


def test_errors_unknown_closed_empty(client, chat, new_tenant, admin_conn):
    t, agent, conv = chat
    other_agent = create_agent(client, t)
    ghost = str(uuid.uuid4())
    assert send(client, t, ghost, conv["id"], "Oi").status_code == 404
    assert send(client, t, agent["id"], ghost, "Oi").status_code == 404
    assert send(client, t, other_agent["id"], conv["id"], "Oi").status_code == 404  # not this agent's
    for empty in ("", "   \n"):
        resp = send(client, t, agent["id"], conv["id"], empty)
        assert resp.status_code == 422, empty
    closed = client.post(f"/v1/conversations/{conv['id']}/close", headers=t.headers)
    assert closed.status_code == 200
    assert closed.json()["status"] == "closed"
    assert closed.json()["closed_at"]
    again = client.post(f"/v1/conversations/{conv['id']}/close", headers=t.headers)
    assert again.status_code == 200
    assert again.json()["closed_at"] == closed.json()["closed_at"]
    resp = send(client, t, agent["id"], conv["id"], "Oi")
    assert resp.status_code == 409
    assert resp.json()["error"]["code"] == "conversation_closed"
    resp = client.post("/v1/agents", json={"name": "Bad", "model": "no-such-model"}, headers=t.headers)
    assert resp.status_code == 422
    assert resp.json()["error"]["code"] == "unknown_model"
    assert "renum-local" in resp.json()["error"]["message"]
    # A model group removed from the router config after the agent was saved: the send says so.
    bad_model = create_agent(client, t)
    admin_conn.execute("update public.agents set model = 'no-such-model' where id = %s", [bad_model["id"]])
    conv2 = open_conversation(client, t, bad_model["id"])
    resp = send(client, t, bad_model["id"], conv2["id"], "Oi")
    assert resp.status_code == 422
    assert resp.json()["error"]["code"] == "unknown_model"


def test_local_model_answers_json_and_stream(client, new_tenant, admin_conn):
    t = new_tenant()
    agent = create_agent(client, t, model=LOCAL, max_tokens=16)
    conv = open_conversation(client, t, agent["id"])
    resp = send(client, t, agent["id"], conv["id"], "Hello! What can you do?")
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["model"] == LOCAL
    assert 0 < body["usage"]["completion_tokens"] <= 16
    assert body["usage"]["prompt_tokens"] > 50  # system prompt + rag frame, counted by llama.cpp
    status, events = stream_send(client, t, agent["id"], conv["id"], "Obrigado!")
    assert status == 200, events
    assert events[-1][0] == "done", events
    done = events[-1][1]
    assert done["model"] == LOCAL
    assert done["first_token_ms"] is not None
    assert done["first_token_ms"] <= done["latency_ms"]
    rows = admin_conn.execute("select model, completion_tokens from public.usage_events where conversation_id = %s",
                              [conv["id"]]).fetchall()
    assert len(rows) == 2
    assert all(m == LOCAL and 0 < n <= 16 for m, n in rows)


KNOWLEDGE = {
    "Trocas": "Política de trocas: o cliente pode trocar o produto em até 30 dias, com a nota fiscal.",
    "Entrega": "O prazo de entrega é de 5 dias úteis para as capitais e 10 dias para o interior.",
}


def test_citations_point_at_chunks_of_the_agents_knowledge_base(client, new_tenant, celery_worker, admin_conn,
                                                                hosted):
    from tests.support.chat import add_knowledge
    t = new_tenant()
    kb = add_knowledge(client, t, KNOWLEDGE)
    unrelated = add_knowledge(client, t, {"Outra loja": "Política de trocas da outra loja: trocas em 90 dias."})
    agent = create_agent(client, t, knowledge_base_ids=[kb])
    conv = open_conversation(client, t, agent["id"])
    resp = send(client, t, agent["id"], conv["id"], "Em quantos dias posso trocar um produto?")
    assert resp.status_code == 201, resp.text
    body = resp.json()
    cites = body["citations"]
    assert cites
    assert all(c["kind"] == "chunk" for c in cites)
    assert [c["rank"] for c in cites] == list(range(1, len(cites) + 1))
    assert "trocar o produto em até 30 dias" in cites[0]["text"]
    assert cites[0]["document_title"] == "Trocas"
    kb_chunks = {str(r[0]) for r in admin_conn.execute(
        "select id from public.document_chunks where knowledge_base_id = %s", [kb])}
    assert {c["chunk_id"] for c in cites} <= kb_chunks
    # The prompt numbered the same chunks, in the same order, as the citations rank them.
    prompt = hosted.requests[-1]["body"]["messages"][-1]["content"]
    assert "[1] Trocas: Política de trocas" in prompt
    assert "90 dias" not in prompt
    rows = admin_conn.execute("select chunk_id, memory_id, score, rank from public.citations where message_id = %s "
                              "order by rank", [body["message"]["id"]]).fetchall()
    assert [(str(r[0]), r[1], r[3]) for r in rows] == [(c["chunk_id"], None, c["rank"]) for c in cites]
    # score = the search's fused score (z-scores: may be below 0), so it falls with the rank
    assert [r[2] for r in rows] == sorted((r[2] for r in rows), reverse=True)
    listed = client.get(f"/v1/conversations/{conv['id']}/messages", headers=t.headers).json()["data"]
    assert [m["role"] for m in listed] == ["assistant", "user"]  # newest first
    assert [c["id"] for c in listed[0]["citations"]] == [c["id"] for c in cites]
    assert listed[1]["citations"] == []
    assert unrelated  # exists in the same organization, yet was never searched


def test_a_deleted_knowledge_base_does_not_break_the_agent(client, new_tenant, admin_conn):
    t = new_tenant()
    kb = client.post("/v1/knowledge-bases", json={"name": "temp"}, headers=t.headers).json()["id"]
    agent = create_agent(client, t, knowledge_base_ids=[kb])
    assert client.delete(f"/v1/knowledge-bases/{kb}", headers=t.headers).status_code == 204
    conv = open_conversation(client, t, agent["id"])
    resp = send(client, t, agent["id"], conv["id"], "Oi")
    assert resp.status_code == 201
    assert resp.json()["citations"] == []


def test_memory_of_earlier_conversations_is_used_and_cited(client, new_tenant, celery_worker, admin_conn, hosted):
    t = new_tenant()
    agent = create_agent(client, t)
    first = open_conversation(client, t, agent["id"], contact_external_id="tutor-do-rex")
    resp = send(client, t, agent["id"], first["id"], "Meu cachorro se chama Rex e adora bolinhas de tênis.")
    assert resp.status_code == 201
    # after_turn was enqueued after commit; the real worker embeds the turns as memories.
    wait_for(lambda: admin_conn.execute("select count(*) from public.memories where conversation_id = %s "
                                        "and kind = 'turn'", [first["id"]]).fetchone()[0] >= 2,
             timeout=90, message="turn memories of the first conversation")
    second = open_conversation(client, t, agent["id"], contact_external_id="tutor-do-rex")
    assert second["contact_id"] == first["contact_id"]
    assert second["id"] != first["id"]
    resp = send(client, t, agent["id"], second["id"], "Como se chama o meu cachorro?")
    memories = [c for c in resp.json()["citations"] if c["kind"] == "memory"]
    assert memories, resp.json()["citations"]
    assert any("Rex" in c["text"] for c in memories), resp.json()["citations"]
    assert "Rex" in hosted.requests[-1]["body"]["messages"][-1]["content"]
    ids = {str(r[0]) for r in admin_conn.execute("select id from public.memories where contact_id = %s",
                                                   [first["contact_id"]])}
    assert {c["memory_id"] for c in memories} <= ids
    # Another customer of the same agent does not get Rex.
    stranger = open_conversation(client, t, agent["id"])
    resp = send(client, t, agent["id"], stranger["id"], "Como se chama o meu cachorro?")
    assert not [c for c in resp.json()["citations"] if c["kind"] == "memory"]
    assert "Rex" not in hosted.requests[-1]["body"]["messages"][-1]["content"]


def test_client_leaving_mid_stream_frees_the_conversation(client, new_tenant, base_url, admin_conn, stack):
    t = new_tenant()
    agent = create_agent(client, t, model=LOCAL, max_tokens=400)
    conv = open_conversation(client, t, agent["id"])
    url = f"{base_url}/agents/{agent['id']}/conversations/{conv['id']}/messages"
    with httpx.stream("POST", url, json={"content": "Write a very long story about a cat.", "stream": True},
                      headers=t.headers, timeout=120) as resp:
        assert resp.status_code == 200
        for line in resp.iter_lines():
            if line.startswith("event: delta"):
                break  # the customer closed the tab after the first words
    r = redis_sync.Redis.from_url(stack["REDIS_URL"])
    wait_for(lambda: not r.exists(lock_key(t.org_id, conv["id"])), timeout=30, message="lock released")
    assert [row[0] for row in messages_of(admin_conn, conv["id"])] == ["user"]  # no half answer stored
    client.patch(f"/v1/agents/{agent['id']}", json={"max_tokens": 8}, headers=t.headers)
    assert send(client, t, agent["id"], conv["id"], "Hi").status_code == 201


def test_org_system_prompt_renders_in_the_sandbox(client, new_tenant, admin_conn, hosted):
    t = new_tenant("Padaria Pão Quente")
    agent = create_agent(client, t, system_prompt="Você é {{ agent_name }} da {{ business_name }}. "
                                                  "{% if customer_name %}Cliente: {{ customer_name }}.{% endif %}")
    conv = open_conversation(client, t, agent["id"], contact_name="Rita")
    assert send(client, t, agent["id"], conv["id"], "Bom dia").status_code == 201
    system = hosted.requests[-1]["body"]["messages"][0]["content"]
    assert system.strip() == f"Você é {agent['name']} da Padaria Pão Quente. Cliente: Rita."
    broken = client.post("/v1/agents", json={"name": "Broken", "system_prompt": "Oi {% if %}"}, headers=t.headers)
    assert broken.status_code == 422, broken.text
    assert broken.json()["error"]["code"].startswith("prompt_"), broken.text
    # Refused when saved (a trial render in the sandbox); one stored before that check still
    # fails its messages with a 422, and the customer's message is kept.
    refused = client.post("/v1/agents", json={"name": "Hostile", "system_prompt": "{{ agent_name.__class__.__mro__ }}"},
                          headers=t.headers)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "prompt_forbidden", refused.text
    hostile = create_agent(client, t)
    admin_conn.execute("update public.agents set system_prompt = %s where id = %s",
                       ["{{ agent_name.__class__.__mro__ }}", hostile["id"]])
    conv = open_conversation(client, t, hostile["id"])
    resp = send(client, t, hostile["id"], conv["id"], "Bom dia")
    assert resp.status_code == 422
    assert resp.json()["error"]["code"].startswith("prompt_")
    assert [r[0] for r in messages_of(admin_conn, conv["id"])] == ["user"]


def test_agent_time_zone_sets_now_and_is_validated(client, new_tenant, hosted):
    from datetime import datetime
    from zoneinfo import ZoneInfo
    t = new_tenant()
    agent = create_agent(client, t, system_prompt="Agora: {{ now }}", timezone="America/Sao_Paulo")
    assert agent["timezone"] == "America/Sao_Paulo"
    assert create_agent(client, t)["timezone"] == "UTC"
    conv = open_conversation(client, t, agent["id"])
    assert send(client, t, agent["id"], conv["id"], "Que horas são?").status_code == 201
    system = hosted.requests[-1]["body"]["messages"][0]["content"].strip()
    local = datetime.now(ZoneInfo("America/Sao_Paulo"))
    assert system.startswith(f"Agora: {local:%Y-%m-%d} "), system
    assert system.endswith(" America/Sao_Paulo"), system
    for bad in ("Mars/Olympus_Mons", "../../etc/passwd", ""):
        resp = client.post("/v1/agents", json={"name": "Bad zone", "timezone": bad}, headers=t.headers)
        assert resp.status_code == 422, (bad, resp.text)
    resp = client.patch(f"/v1/agents/{agent['id']}", json={"timezone": "Brasil/Sao_Paulo"}, headers=t.headers)
    assert resp.status_code == 422
    assert "time zone" in resp.text
    resp = client.patch(f"/v1/agents/{agent['id']}", json={"timezone": "Europe/Lisbon"}, headers=t.headers)
    assert resp.status_code == 200
    assert resp.json()["timezone"] == "Europe/Lisbon"
