"""SIGTERM mid-stream: the API ends every open SSE stream with a retryable `error` event
(instead of cutting it), keeps the question, releases the conversation lock, and exits."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import redis as redis_sync

from api.chat.lock import lock_key
from tests.support.chat import create_agent, messages_of, open_conversation, parse_sse
from tests.conftest import ROOT, TEST_DIR, wait_for
from tests.fakes.openai_server import FakeOpenAIServer

CONFIG = """
model_list:
  - {{model_name: renum-local, litellm_params: {{model: renum-llamacpp/default}}}}
  - {{model_name: fake-hang, litellm_params: {{model: openai/hang, api_key: sk-x, api_base: {base}, timeout: 60,
                                               stream_timeout: 60}}}}
router_settings:
  num_retries: 0
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sigterm_ends_open_streams_with_a_retryable_error(client, new_tenant, admin_conn, tmp_path, stack):
    fake = FakeOpenAIServer().start()
    config = tmp_path / "litellm.yaml"
    config.write_text(CONFIG.format(base=fake.base_url))
    port = _port()
    log = open(TEST_DIR / f"api-sigterm-{os.getpid()}.log", "ab")
    api = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port",
                            str(port), "--timeout-graceful-shutdown", "10"], cwd=ROOT, stdout=log,
                           stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(ROOT),
                                                          "RENUM_LITELLM_CONFIG": str(config)})
    try:
        wait_for(lambda: _up(port), timeout=60, message="API subprocess")
        t = new_tenant()
        api_client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        agent = create_agent(api_client, t, model="fake-hang")  # a model only the subprocess knows
        conv = open_conversation(client, t, agent["id"])
        url = f"http://127.0.0.1:{port}/v1/agents/{agent['id']}/conversations/{conv['id']}/messages"
        body = {"content": "vai cair", "stream": True, "client_message_id": "sigterm-1"}
        with httpx.stream("POST", url, json=body, headers=t.headers, timeout=30) as resp:
            assert resp.status_code == 200
            time.sleep(0.5)  # the model is "thinking" (hangs)
            api.send_signal(signal.SIGTERM)
            raw = "".join(resp.iter_text())
        events = parse_sse(raw)
        assert events, raw
        assert events[-1][0] == "error", raw
        error = json.loads(events[-1][1])
        assert error["code"] == "server_shutting_down"
        assert error["retryable"] is True
        assert error["status"] == 503
        assert api.wait(timeout=15) is not None
    finally:
        if api.poll() is None:
            api.kill()
        log.close()
        fake.stop()
    assert [r[0] for r in messages_of(admin_conn, conv["id"])] == ["user"]  # the question is kept, once
    r = redis_sync.Redis.from_url(stack["REDIS_URL"])
    assert not r.exists(lock_key(t.org_id, conv["id"]))  # a retry elsewhere is not blocked


def _up(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
