"""Chat UIs on the OpenAI-compatible API, as Open WebUI drives it: the user and the chat arrive
as headers, housekeeping prompts (titles, tags) go through the same endpoint, and the whole chat
is re-sent on every turn. Errors come back in OpenAI's shape."""
from __future__ import annotations

import json
import uuid

import httpx
import openai
import pytest

from api.core.config import get_settings
from tests.support.chat import base_url, messages_of  # noqa: F401
from tests.conftest import wait_for
from tests.support.memory import FAKE_LLM, MODEL, facts_reply, memories

TITLE_TASK = """### Task:
Generate a concise, 3-5 word title with an emoji summarizing the chat history.
### Output:
JSON format: { "title": "your concise title here" }
### Chat History:
<chat_history>
USER: Eu sou vegetariana e moro em Recife
</chat_history>"""


@pytest.fixture
def owui(client, new_tenant, base_url):
    """An organization, its API key, an agent with quick memory, and Open WebUI's user headers."""
    t = new_tenant()
    key = client.post("/v1/api-keys", json={"name": "open-webui"}, headers=t.headers).json()["key"]
    agent = client.post("/v1/agents", headers=t.headers, json={
        "name": f"Chef {uuid.uuid4().hex[:6]}", "model": MODEL, "max_tokens": 32,
        "settings": {"memory_idle_s": 1, "memory_every_n_turns": 50}}).json()
    user_id = f"owui-{uuid.uuid4().hex[:8]}"
    headers = {"Authorization": f"Bearer {key}", "X-OpenWebUI-User-Id": user_id,
               "X-OpenWebUI-User-Email": f"{user_id}@example.com", "X-OpenWebUI-User-Name": "Joana Lima",
               "X-OpenWebUI-User-Role": "user"}
    with httpx.Client(base_url=base_url, timeout=60) as http:
        yield t, http, agent, key, user_id, headers


def _stream(http: httpx.Client, body: dict, headers: dict) -> tuple[str, str]:
    """(answer text, conversation id) of a streamed completion, read as Open WebUI does."""
    text, conversation = [], None
    with http.stream("POST", "/chat/completions", json={**body, "stream": True}, headers=headers) as resp:
        assert resp.status_code == 200, resp.read()
        conversation = resp.headers["X-Renum-Conversation-Id"]
        for line in resp.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                chunk = json.loads(line[6:])
                text += [c["delta"].get("content") or "" for c in chunk["choices"]]
    return "".join(text), conversation


def test_open_webui_sequence_keeps_one_conversation_and_the_contacts_memory(owui, admin_conn, celery_worker):
    t, http, agent, _, user_id, headers = owui
    model = f"agent:{agent['id']}"
    assert model in [m["id"] for m in http.get("/models", headers=headers).json()["data"]]
    assert http.get(f"/models/{model}", headers=headers).json()["name"] == agent["name"]

    chat = {**headers, "X-OpenWebUI-Chat-Id": str(uuid.uuid4())}
    FAKE_LLM.script("customer: Eu sou vegetariana e moro em Recife",
                    facts_reply(("diet", "vegetariana", 1.0), ("city", "Recife", 0.9)))
    first = [{"role": "user", "content": "Eu sou vegetariana e moro em Recife"}]
    answer, conversation = _stream(http, {"model": model, "messages": first}, chat)
    assert answer.startswith("echo:")

    # The title task: answered by the agent's model, stored nowhere.
    conversations_before = admin_conn.execute("select count(*) from public.conversations where organization_id = %s",
                                              [t.org_id]).fetchone()[0]
    title = http.post("/chat/completions", headers=chat, json={"model": model, "stream": False,
                                                               "messages": [{"role": "user", "content": TITLE_TASK}]})
    assert title.status_code == 200
    assert title.json()["choices"][0]["message"]["content"].startswith("echo:")
    assert "X-Renum-Conversation-Id" not in title.headers
    assert "conversation_id" not in title.json()
    assert admin_conn.execute("select count(*) from public.conversations where organization_id = %s",
                              [t.org_id]).fetchone()[0] == conversations_before
    assert len(messages_of(admin_conn, conversation)) == 2
    task_usage = admin_conn.execute("select count(*) from public.usage_events where organization_id = %s "
                                    "and metadata ->> 'task' = 'true'", [t.org_id]).fetchone()[0]
    assert task_usage == 1  # its tokens are still accounted

    # Next turn: Open WebUI re-sends the whole chat (with its own system prompt) and the chat id.
    second = [{"role": "system", "content": "You are helpful."}, *first,
              {"role": "assistant", "content": answer}, {"role": "user", "content": "O que você me recomenda?"}]
    _, again = _stream(http, {"model": model, "messages": second}, chat)
    assert again == conversation
    assert [r[0] for r in messages_of(admin_conn, conversation)] == ["user", "assistant", "user", "assistant"]
    contact = admin_conn.execute("select c.id, c.external_id, c.name from public.contacts c join public.conversations v"
                                 " on v.contact_id = c.id where v.id = %s", [conversation]).fetchone()
    assert contact[1] == user_id
    assert contact[2] == "Joana Lima"
    wait_for(lambda: len(memories(admin_conn, contact[0], "fact")) == 2, timeout=60, message="facts remembered")

    # A new chat of the same user is a new conversation that recalls what the contact said.
    _, other = _stream(http, {"model": model, "messages": [{"role": "user", "content": "Sugira um prato"}]},
                       {**headers, "X-OpenWebUI-Chat-Id": str(uuid.uuid4())})
    assert other != conversation
    prompt = "\n".join(str(m.get("content")) for m in FAKE_LLM.requests[-1]["body"]["messages"])
    assert "vegetariana" in prompt
    assert "Recife" in prompt


def test_chat_id_of_another_user_is_refused(owui):
    _, http, agent, _, _, headers = owui
    chat_id = str(uuid.uuid4())
    body = {"model": f"agent:{agent['id']}", "messages": [{"role": "user", "content": "Oi"}]}
    assert http.post("/chat/completions", json=body, headers={**headers, "X-OpenWebUI-Chat-Id": chat_id}).status_code == 200
    stolen = http.post("/chat/completions", json=body, headers={**headers, "X-OpenWebUI-User-Id": "intruder",
                                                                "X-OpenWebUI-Chat-Id": chat_id})
    assert stolen.status_code == 409
    assert stolen.json()["error"]["code"] == "conversation_user_mismatch"


def test_header_names_are_settings(owui, admin_conn, monkeypatch):
    t, http, agent, _, _, headers = owui
    monkeypatch.setattr(get_settings(), "chat_ui_user_id_headers", "X-LibreChat-User-Id, X-User-Id")
    monkeypatch.setattr(get_settings(), "chat_ui_chat_id_headers", "X-LibreChat-Conversation-Id")
    auth = {"Authorization": headers["Authorization"], "X-User-Id": "lc-42", "X-LibreChat-Conversation-Id": "c-1"}
    body = {"model": f"agent:{agent['id']}", "messages": [{"role": "user", "content": "Oi"}]}
    a = http.post("/chat/completions", json=body, headers=auth).json()["conversation_id"]
    b = http.post("/chat/completions", json={**body, "messages": [{"role": "user", "content": "De novo"}]},
                  headers=auth).json()["conversation_id"]
    assert a == b
    assert admin_conn.execute("select c.external_id from public.contacts c join public.conversations v on "
                              "v.contact_id = c.id where v.id = %s", [a]).fetchone()[0] == "lc-42"


def test_errors_have_openais_shape(owui):
    _, http, agent, key, _, headers = owui
    oai = openai.OpenAI(base_url=str(http.base_url), api_key=key, max_retries=0)
    model = f"agent:{agent['id']}"
    with pytest.raises(openai.BadRequestError) as n:
        oai.chat.completions.create(model=model, messages=[{"role": "user", "content": "Oi"}], n=2)
    assert n.value.param == "n"
    assert n.value.code == "unsupported_parameter"
    assert n.value.type == "invalid_request_error"
    with pytest.raises(openai.BadRequestError) as tools:
        oai.chat.completions.create(model=model, messages=[{"role": "user", "content": "Oi"}], tools=[
            {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}])
    assert tools.value.param == "tools"
    assert "not supported" in tools.value.message
    with pytest.raises(openai.BadRequestError) as empty:
        oai.chat.completions.create(model=model, messages=[{"role": "user", "content": " "}])
    assert empty.value.param == "messages"
    missing = http.post("/chat/completions", json={"messages": [{"role": "user", "content": "x"}]}, headers=headers)
    assert missing.status_code == 400 and missing.json()["error"] == {
        "message": "model: Field required", "type": "invalid_request_error", "param": "model",
        "code": "missing_required_parameter"}
    with pytest.raises(openai.NotFoundError) as gone:
        oai.models.retrieve(f"agent:{uuid.uuid4()}")
    assert gone.value.code == "model_not_found"
    assert gone.value.type == "invalid_request_error"
    assert oai.models.retrieve(model).id == model
    bad_key = http.get("/models", headers={"Authorization": "Bearer rnm_bogus"})
    assert bad_key.status_code == 401
    assert bad_key.json()["error"]["type"] == "authentication_error"
    assert "WWW-Authenticate" in bad_key.headers
