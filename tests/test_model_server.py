"""The local model in its own process (api/llm/server.py) and the engine that talks to it
(api/llm/remote_engine.py): a real server process running the suite's SmolLM2 through llama.cpp,
spoken to over HTTP by OpenAI's own client and by the API's chat path."""
from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from api.chat import grounding
from api.core.config import get_settings
from api.llm import llama_engine
from api.llm.llama_engine import Run
from api.llm.remote_engine import RemoteEngine
from tests.conftest import wait_for
from tests.support.chat import LOCAL, add_knowledge, create_agent, open_conversation, send

ROOT = Path(__file__).resolve().parents[1]
KEY = "model-server-test-key"
MESSAGES = [{"role": "system", "content": "You answer in one short sentence."},
            {"role": "user", "content": "Excerpt: returns are accepted within 30 days.\n\nQuestion: "
                                        "how long do I have to return a product?"}]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def model_server() -> Iterator[str]:
    port = _free_port()
    env = dict(os.environ, RENUM_LOCAL_MODEL_KEY=KEY, RENUM_LOCAL_MODEL="smollm2")
    env.pop("RENUM_LOCAL_MODEL_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "api.llm.server", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "model server did not start"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def served(model_server) -> Iterator[str]:
    """This (API) process's `renum-local` goes to the server instead of the in-process model."""
    settings = get_settings()
    saved = llama_engine._engine
    mp = pytest.MonkeyPatch()
    mp.setattr(settings, "local_model_url", model_server)
    mp.setattr(settings, "local_model_key", KEY)
    llama_engine._engine = None
    try:
        yield model_server
    finally:
        mp.undo()
        llama_engine._engine = saved


def test_the_server_speaks_openai_chat_completions(model_server):
    client = openai.OpenAI(base_url=model_server + "/v1", api_key=KEY)
    whole = client.chat.completions.create(model="renum-local", messages=MESSAGES, max_tokens=10, temperature=0)
    assert whole.choices[0].message.content
    assert whole.usage.prompt_tokens > 10 and whole.usage.completion_tokens <= 10
    assert whole.choices[0].finish_reason in ("stop", "length")
    chunks = list(client.chat.completions.create(model="renum-local", messages=MESSAGES, max_tokens=10,
                                                 temperature=0, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == whole.choices[0].message.content
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens

    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=model_server + "/v1", api_key="wrong").chat.completions.create(
            model="renum-local", messages=MESSAGES, max_tokens=4)
    assert httpx.get(model_server + "/health").json()["model"] == "smollm2"  # health needs no key
    headers = {"Authorization": f"Bearer {KEY}"}
    empty = httpx.post(model_server + "/v1/chat/completions", json={"messages": []}, headers=headers)
    assert empty.status_code == 422
    too_long = httpx.post(model_server + "/v1/chat/completions", headers=headers,
                          json={"messages": [{"role": "user", "content": "palavra " * 9000}], "max_tokens": 4})
    assert too_long.status_code == 400
    assert too_long.json()["error"]["code"] == "context_length_exceeded"


def test_the_remote_engine_gives_what_the_in_process_model_gives(model_server):
    local = llama_engine.get_engine()
    remote = RemoteEngine(model_server, KEY)
    assert remote.name == local.name == "smollm2"
    params = {"max_tokens": 12, "temperature": 0.0}
    run = Run("test", 60)
    assert "".join(remote.generate(MESSAGES, params, run)) == "".join(local.generate(MESSAGES, params, Run("t", 60)))
    assert run.prompt_tokens > 10 and 0 < run.completion_tokens <= 12
    margin = remote.yes_no(MESSAGES, grounding.QUESTION, timeout_s=60)
    assert math.isfinite(margin)
    assert margin == pytest.approx(local.yes_no(MESSAGES, grounding.QUESTION, timeout_s=60), abs=1e-3)
    text = "Quanto custa o frete para Belo Horizonte?"
    assert remote.count(text) == local.count(text)


def test_leaving_a_stream_stops_the_model(model_server):
    remote = RemoteEngine(model_server, KEY)
    run = Run("test", 60)
    deltas = remote.generate([{"role": "user", "content": "Write a long story about a lighthouse."}],
                             {"max_tokens": 400, "temperature": 0.7}, run)
    next(deltas)
    run.cancel.set()
    deltas.close()  # as the provider does when the customer's connection goes away
    wait_for(lambda: not remote.health()["busy"], 10, message="model released")
    assert "".join(remote.generate(MESSAGES, {"max_tokens": 4, "temperature": 0}, Run("test", 60)))


def test_agents_answer_and_judge_through_the_server(client, new_tenant, celery_worker, served):
    t = new_tenant()
    agent = create_agent(client, t, model=LOCAL, max_tokens=12, temperature=0)
    conv = open_conversation(client, t, agent["id"])
    resp = send(client, t, agent["id"], conv["id"], "Olá, tudo bem?")
    assert resp.status_code == 201, resp.text
    assert resp.json()["message"]["content"].strip()
    assert isinstance(llama_engine._engine, RemoteEngine)  # this process never loaded the model
    status = client.get("/v1/system/status", headers=t.headers).json()["local_model"]
    assert status["model_server"] is True and status["loaded"] is False

    # The answer check asks the server for its yes/no margin (threshold 50: it always refuses).
    kb = add_knowledge(client, t, {"Trocas": "O cliente pode trocar o produto em até 30 dias, com a nota fiscal."})
    judged = create_agent(client, t, model=LOCAL, max_tokens=12, temperature=0, knowledge_base_ids=[kb],
                          settings={"answer_check_threshold": 50})
    conv = open_conversation(client, t, judged["id"])
    reply = send(client, t, judged["id"], conv["id"], "Em quantos dias posso trocar?").json()["message"]
    assert reply["content"] == grounding.NOT_FOUND["pt"]
    assert math.isfinite(reply["metadata"]["answer_check"]["margin"])


def test_a_model_server_that_is_down_is_a_503_and_the_message_is_kept(client, new_tenant, served, admin_conn):
    get_settings().local_model_url = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    t = new_tenant()
    agent = create_agent(client, t, model=LOCAL)
    conv = open_conversation(client, t, agent["id"])
    started = time.monotonic()
    resp = send(client, t, agent["id"], conv["id"], "Alguém aí?")
    assert resp.status_code == 503, resp.text
    assert resp.json()["error"]["code"] == "llm_unavailable"
    assert time.monotonic() - started < 30
    assert [r[0] for r in admin_conn.execute(
        "select role from public.conversation_history where conversation_id = %s", [conv["id"]]).fetchall()] == ["user"]


def test_run_starts_one_model_server_for_every_process(monkeypatch):
    from infra import local
    settings = get_settings()
    monkeypatch.setattr(settings, "local_model_url", "")
    monkeypatch.setattr(settings, "local_model_key", "")
    env: dict[str, str] = {}
    commands = local.model_server(settings, env)
    assert commands["model"][1:3] == ["-m", "api.llm.server"]
    assert env["RENUM_LOCAL_MODEL_URL"] == f"http://127.0.0.1:{settings.local_model_port}"
    assert len(env["RENUM_LOCAL_MODEL_KEY"]) >= 24
    # A server of the operator's own (another machine, a bigger model): `run` starts none.
    monkeypatch.setattr(settings, "local_model_url", "http://models.internal:8091")
    env = {}
    assert local.model_server(settings, env) == {} and env == {}


def test_background_work_has_its_own_lane(model_server):
    """A summary being written (background lane, the memory worker) does not hold up an answer."""
    background = RemoteEngine(model_server, KEY, lane="background")
    interactive = RemoteEngine(model_server, KEY)
    run = Run("test", 120)
    long = background.generate([{"role": "user", "content": "Write a long story about a lighthouse."}],
                               {"max_tokens": 300, "temperature": 0.7}, run)
    next(long)  # the background lane is generating now
    try:
        assert interactive.health()["lanes_busy"] == {"interactive": False, "background": True}
        assert "".join(interactive.generate(MESSAGES, {"max_tokens": 6, "temperature": 0}, Run("test", 60)))
        assert interactive.health()["lanes_busy"]["background"] is True  # still writing its story
    finally:
        run.cancel.set()
        long.close()
    wrong = httpx.post(model_server + "/v1/chat/completions", json={"messages": MESSAGES},
                       headers={"Authorization": f"Bearer {KEY}", "X-Renum-Lane": "urgent"})
    assert wrong.status_code == 422


def test_the_memory_pool_takes_the_background_lane():
    from infra import local
    assert "RENUM_LOCAL_MODEL_LANE=background" in local.worker_command(1, "memory", "memory")
    assert not any("LANE" in part for part in local.worker_command(2, "default,webhooks,channels", "fast"))
