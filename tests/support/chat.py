"""Factories and fixtures for the chat tests: agents, conversations, knowledge, and hosted models.

Hosted models are the fake OpenAI server (tests/fakes), reached through a LiteLLM config
written for these tests: the chat code builds the process-wide router from
`settings.litellm_config`, so the fixture points that setting at the file and rebuilds the
router (and restores both afterwards). The local model is the real packaged SmolLM2.
"""
from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from api.core.config import get_settings
from api.llm import client as llm_client
from tests.fakes.openai_server import FakeOpenAIServer

LOCAL = "renum-local"
HOSTED = "fake-hosted"  # echoes "echo: <last user message>"
THINKER = "fake-thinker"  # same, after a <think> block
DOWN = "fake-down"  # HTTP 500, no fallback
SLOW = "fake-slow"  # never answers; times out after SLOW_TIMEOUT_S
SLOW_TIMEOUT_S = 3

_CONFIG = """
model_list:
  - {{model_name: renum-local, litellm_params: {{model: renum-llamacpp/default, timeout: 120, stream_timeout: 120}}}}
  - {{model_name: {hosted}, litellm_params: {{model: openai/fake-ok, {fake}}}}}
  - {{model_name: {thinker}, litellm_params: {{model: openai/think-ok, {fake}}}}}
  - {{model_name: {down}, litellm_params: {{model: openai/fail-500, {fake}}}}}
  - {{model_name: {slow}, litellm_params: {{model: openai/hang, {fake}, timeout: {slow_s}, stream_timeout: {slow_s}}}}}
router_settings:
  num_retries: 0
  disable_cooldowns: true
"""
_FAKE = "api_key: os.environ/RENUM_CHAT_TEST_KEY, api_base: os.environ/RENUM_CHAT_TEST_BASE"


@pytest.fixture(scope="module")
def hosted(tmp_path_factory) -> Iterator[FakeOpenAIServer]:
    """The fake hosted models, routed through the app's own (rebuilt) LiteLLM router."""
    server = FakeOpenAIServer().start()
    path = tmp_path_factory.mktemp("litellm") / "litellm.yaml"
    path.write_text(_CONFIG.format(hosted=HOSTED, thinker=THINKER, down=DOWN, slow=SLOW, fake=_FAKE,
                                   slow_s=SLOW_TIMEOUT_S))
    mp = pytest.MonkeyPatch()
    mp.setenv("RENUM_CHAT_TEST_KEY", "sk-chat-tests")
    mp.setenv("RENUM_CHAT_TEST_BASE", server.base_url)
    mp.setattr(get_settings(), "litellm_config", Path(path))
    llm_client.get_router.cache_clear()
    try:
        yield server
    finally:
        mp.undo()
        llm_client.get_router.cache_clear()
        server.stop()


def create_agent(client, tenant, *, model: str = HOSTED, headers=None, **fields) -> dict:
    body = {"name": f"Ana {uuid.uuid4().hex[:6]}", "model": model, "max_tokens": 24, "temperature": 0, **fields}
    resp = client.post("/v1/agents", json=body, headers=headers or tenant.headers)
    assert resp.status_code == 201, resp.text
    return resp.json()


def open_conversation(client, tenant, agent_id: str, *, headers=None, **body) -> dict:
    body.setdefault("contact_external_id", f"cust-{uuid.uuid4().hex[:10]}")
    resp = client.post(f"/v1/agents/{agent_id}/conversations", json=body, headers=headers or tenant.headers)
    assert resp.status_code in (200, 201), resp.text
    return resp.json()


def send(client, tenant, agent_id: str, conversation_id: str, content: str, *, headers=None, **body):
    return client.post(f"/v1/agents/{agent_id}/conversations/{conversation_id}/messages",
                       json={"content": content, **body}, headers=headers or tenant.headers)


def parse_sse(text: str) -> list[tuple[str, str]]:
    """(event, data) pairs of an SSE body; comment lines (pings) are skipped."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if data:
            events.append((name, "\n".join(data)))
    return events


def stream_send(client, tenant, agent_id: str, conversation_id: str, content: str, **body) -> tuple[int, list]:
    with client.stream("POST", f"/v1/agents/{agent_id}/conversations/{conversation_id}/messages",
                       json={"content": content, "stream": True, **body}, headers=tenant.headers) as resp:
        raw = "".join(resp.iter_text())
        if resp.status_code != 200:
            return resp.status_code, [("http_error", raw)]
        assert resp.headers["content-type"].startswith("text/event-stream")
    return resp.status_code, [(name, json.loads(data)) for name, data in parse_sse(raw)]


def add_knowledge(client, tenant, texts: dict[str, str], *, language: str = "portuguese") -> str:
    """A knowledge base with one document per (title, text), ingested by the real worker."""
    from tests.support.documents import wait_done
    kb = client.post("/v1/knowledge-bases", json={"name": f"kb-{uuid.uuid4().hex[:8]}", "language": language},
                     headers=tenant.headers)
    assert kb.status_code == 201, kb.text
    for title, text in texts.items():
        doc = client.post(f"/v1/knowledge-bases/{kb.json()['id']}/documents/text", headers=tenant.headers,
                          json={"title": title, "text": text})
        assert doc.status_code == 201, doc.text
        assert wait_done(client, tenant, doc.json()["id"])["status"] == "ready"
    return kb.json()["id"]


def messages_of(admin_conn, conversation_id: str) -> list[tuple]:
    """(role, content, client_message_id, reply_to) rows, oldest first, as stored."""
    return admin_conn.execute(
        "select role, content, client_message_id, reply_to from public.conversation_history "
        "where conversation_id = %s order by created_at, id", [conversation_id]).fetchall()


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """The app served by uvicorn on 127.0.0.1 in a thread (real HTTP, real SSE framing)."""
    from api.main import create_app
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        assert thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/v1"
    server.should_exit = True
    thread.join(15)
