"""OpenAI-compatible API, exercised with the official `openai` client against a real uvicorn server."""
from __future__ import annotations

import time
import uuid

import openai
import pytest

from api.core.config import get_settings

from tests.support.chat import (DOWN, HOSTED, LOCAL, THINKER, base_url, create_agent, hosted,  # noqa: F401
                                messages_of)

pytestmark = pytest.mark.usefixtures("hosted")


@pytest.fixture
def org(client, new_tenant, base_url):
    """A tenant, its API key as an OpenAI client, and a hosted-model agent."""
    t = new_tenant()
    key = client.post("/v1/api-keys", json={"name": "openai"}, headers=t.headers).json()["key"]
    agent = create_agent(client, t, name=f"Vendas {uuid.uuid4().hex[:6]}")
    return t, openai.OpenAI(base_url=base_url, api_key=key, max_retries=0), agent


def ask(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def test_models_are_the_organizations_agents(client, org, new_tenant):
    t, oai, agent = org
    other = create_agent(client, new_tenant())
    ids = [m.id for m in oai.models.list().data]
    assert f"agent:{agent['id']}" in ids
    assert f"agent:{other['id']}" not in ids
    card = next(m for m in oai.models.list().data if m.id == f"agent:{agent['id']}")
    assert card.object == "model"
    assert card.owned_by == t.org_id
    assert card.model_extra["name"] == agent["name"]


def test_completion_with_the_official_client(client, org, admin_conn, hosted):
    t, oai, agent = org
    done = oai.chat.completions.create(model=f"agent:{agent['id']}", messages=ask("Qual o prazo de entrega?"))
    assert done.object == "chat.completion"
    assert done.model == f"agent:{agent['id']}"
    choice = done.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content.startswith("echo:")
    assert choice.finish_reason in ("stop", "length")
    assert done.usage.total_tokens > 0
    conversation_id = done.model_extra["conversation_id"]
    rows = messages_of(admin_conn, conversation_id)
    assert [r[0] for r in rows] == ["user", "assistant"]
    assert rows[0][1] == "Qual o prazo de entrega?"
    assert rows[1][1] == choice.message.content
    assert "atendente virtual da Acme" in hosted.requests[-1]["body"]["messages"][0]["content"]  # org name via the key
    channel, contact = admin_conn.execute(
        "select c.channel, ct.external_id from public.conversations c join public.contacts ct on ct.id = c.contact_id "
        "where c.id = %s", [conversation_id]).fetchone()
    assert channel == "openai"
    assert contact == "renum:anonymous"  # no `user`: nothing is remembered
    by_name = oai.chat.completions.create(model=agent["name"], messages=ask("Oi"))
    assert by_name.choices[0].message.content.startswith("echo:")


def test_streaming_with_the_official_client(org, admin_conn):
    t, oai, agent = org
    stream = oai.chat.completions.create(model=f"agent:{agent['id']}", messages=ask("Vocês entregam no sábado?"),
                                         stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" and c.id == chunks[0].id for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finished = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finished) == 1
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens > 0
    conversation_id = finished[0].model_extra["conversation_id"]
    assert messages_of(admin_conn, conversation_id)[-1][1] == text.strip()
    assert text.strip().startswith("echo:")


def test_reasoning_is_stripped_in_both_modes(client, org):
    t, oai, _ = org
    thinker = create_agent(client, t, model=THINKER)
    plain = oai.chat.completions.create(model=f"agent:{thinker['id']}", messages=ask("Pense e responda"))
    streamed = "".join(c.choices[0].delta.content or "" for c in oai.chat.completions.create(
        model=f"agent:{thinker['id']}", messages=ask("Pense e responda"), stream=True) if c.choices)
    for text in (plain.choices[0].message.content, streamed):
        assert "<think>" not in text
        assert "pensando" not in text
        assert text.strip().startswith("echo:")


def test_client_history_and_server_conversations(org, hosted):
    t, oai, agent = org
    history = [{"role": "system", "content": "Responda sempre em português."},
               {"role": "user", "content": "Meu nome é Ana."}, {"role": "assistant", "content": "Olá, Ana!"},
               {"role": "user", "content": "Qual é o meu nome?"}]
    first = oai.chat.completions.create(model=f"agent:{agent['id']}", messages=history, user="ana-123")
    sent = hosted.requests[-1]["body"]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert "Responda sempre em português." in sent[0]["content"]
    assert sent[1]["content"] == "Meu nome é Ana."
    conversation_id = first.model_extra["conversation_id"]
    # Continuing server-side: only the last message is new; the stored turns are the history.
    oai.chat.completions.create(model=f"agent:{agent['id']}", messages=ask("E o meu sobrenome?"), user="ana-123",
                                metadata={"conversation_id": conversation_id})
    sent = hosted.requests[-1]["body"]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[1]["content"] == "Qual é o meu nome?"
    assert "E o meu sobrenome?" in sent[-1]["content"]
    with pytest.raises(openai.ConflictError):
        oai.chat.completions.create(model=f"agent:{agent['id']}", messages=ask("Oi"), user="someone-else",
                                    metadata={"conversation_id": conversation_id})


def test_idempotent_retry_through_metadata(org, admin_conn, hosted):
    t, oai, agent = org
    first = oai.chat.completions.create(model=f"agent:{agent['id']}", messages=ask("Olá"), user="retry-user")
    conversation = first.model_extra["conversation_id"]
    meta = {"conversation_id": conversation, "client_message_id": "req-7"}
    a = oai.chat.completions.create(model=f"agent:{agent['id']}", messages=ask("Tem desconto?"), metadata=meta)
    calls = len(hosted.requests)
    b = oai.chat.completions.create(model=f"agent:{agent['id']}", messages=ask("Tem desconto?"), metadata=meta)
    assert a.id == b.id
    assert a.choices[0].message.content == b.choices[0].message.content
    assert len(hosted.requests) == calls
    assert [r[2] for r in messages_of(admin_conn, conversation)].count("req-7") == 2  # question + answer, once


def test_user_enables_memory_and_names_the_contact(client, org, admin_conn):
    t, oai, agent = org
    done = oai.chat.completions.create(model=f"agent:{agent['id']}", messages=ask("Oi"), user="cliente-77")
    contact = admin_conn.execute("select ct.external_id from public.conversations c join public.contacts ct "
                                 "on ct.id = c.contact_id where c.id = %s",
                                 [done.model_extra["conversation_id"]]).fetchone()[0]
    assert contact == "cliente-77"


def test_errors_map_to_openai_exceptions(client, org, new_tenant):
    t, oai, agent = org
    with pytest.raises(openai.NotFoundError):
        oai.chat.completions.create(model=f"agent:{uuid.uuid4()}", messages=ask("Oi"))
    with pytest.raises(openai.NotFoundError):
        oai.chat.completions.create(model="no agent has this name", messages=ask("Oi"))
    with pytest.raises(openai.BadRequestError):  # OpenAI answers invalid parameters with 400
        oai.chat.completions.create(model=f"agent:{agent['id']}", messages=[{"role": "user", "content": "  "}])
    with pytest.raises(openai.BadRequestError):  # OpenAI answers invalid parameters with 400
        oai.chat.completions.create(model=f"agent:{agent['id']}", messages=[{"role": "assistant", "content": "x"}])
    twin = create_agent(client, t, name="Gêmeo")
    create_agent(client, t, name="Gêmeo")
    with pytest.raises(openai.ConflictError):
        oai.chat.completions.create(model="Gêmeo", messages=ask("Oi"))
    assert oai.chat.completions.create(model=f"agent:{twin['id']}", messages=ask("Oi")).choices
    down = create_agent(client, t, model=DOWN)
    with pytest.raises(openai.InternalServerError) as err:
        oai.chat.completions.create(model=f"agent:{down['id']}", messages=ask("Oi"))
    assert err.value.status_code == 503
    with pytest.raises(openai.APIError, match="No language model"):
        list(oai.chat.completions.create(model=f"agent:{down['id']}", messages=ask("Oi"), stream=True))
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=str(oai.base_url), api_key="rnm_bogus", max_retries=0).models.list()


def test_user_token_and_local_model(client, new_tenant, base_url):
    t = new_tenant()
    agent = create_agent(client, t, model=LOCAL, max_tokens=16)
    oai = openai.OpenAI(base_url=base_url, api_key=t.token, default_headers={"X-Organization-Id": t.org_id},
                        max_retries=0)
    started, first_token, parts, chunks = time.perf_counter(), None, [], []
    for chunk in oai.chat.completions.create(model=f"agent:{agent['id']}", messages=ask("Hi! Who are you?"),
                                             stream=True, max_tokens=8, stream_options={"include_usage": True}):
        chunks.append(chunk)
        if chunk.choices and chunk.choices[0].delta.content:
            first_token = first_token or time.perf_counter() - started
            parts.append(chunk.choices[0].delta.content)
    assert parts
    assert first_token is not None
    usage = chunks[-1].usage
    assert 0 < usage.completion_tokens <= 8
    assert usage.prompt_tokens > 50
    finish = next(c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason)
    assert finish == ("length" if usage.completion_tokens == 8 else "stop")


def test_contact_limit_applies_to_named_users_only(org, monkeypatch):
    monkeypatch.setattr(get_settings(), "chat_messages_per_minute", 1)
    t, oai, agent = org
    for _ in range(3):  # anonymous requests share one contact, which stands for many people
        assert oai.chat.completions.create(model=f"agent:{agent['id']}", messages=ask("Oi")).choices
    with pytest.raises(openai.RateLimitError):
        for _ in range(3):  # 3 sends: one may land in the next minute's window
            oai.chat.completions.create(model=f"agent:{agent['id']}", messages=ask("Oi"), user="chatty")


def test_a_resent_chat_continues_its_conversation(org, admin_conn, hosted):
    t, oai, agent = org
    model = f"agent:{agent['id']}"
    first = oai.chat.completions.create(model=model, messages=ask("Oi, sou o Bruno."), user="bruno")
    answer = first.choices[0].message.content
    chat = [*ask("Oi, sou o Bruno."), {"role": "assistant", "content": answer}]
    second = oai.chat.completions.create(model=model, messages=[*chat, *ask("Qual é o meu nome?")], user="bruno")
    assert second.model_extra["conversation_id"] == first.model_extra["conversation_id"]
    assert [m["role"] for m in hosted.requests[-1]["body"]["messages"]] == ["system", "user", "assistant", "user"]
    assert len(messages_of(admin_conn, first.model_extra["conversation_id"])) == 4  # nothing stored twice
    streamed = list(oai.chat.completions.create(
        model=model, messages=[*chat, *ask("Qual é o meu nome?"), {"role": "assistant",
                                                                    "content": second.choices[0].message.content},
                               *ask("Obrigado!")], user="bruno", stream=True))
    finished = next(c for c in streamed if c.choices and c.choices[0].finish_reason)
    assert finished.model_extra["conversation_id"] == first.model_extra["conversation_id"]
    # An edited history is another chat; without `user` nothing is matched (a shared anonymous contact).
    edited = oai.chat.completions.create(model=model, messages=[*ask("Oi, sou o Carlos."), chat[1], *ask("Oi")],
                                         user="bruno")
    anonymous = [oai.chat.completions.create(model=model, messages=[*chat, *ask("Oi")]) for _ in range(2)]
    ids = {first.model_extra["conversation_id"], edited.model_extra["conversation_id"],
           *(a.model_extra["conversation_id"] for a in anonymous)}
    assert len(ids) == 4
