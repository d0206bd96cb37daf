"""A real HTTP server that speaks enough of the OpenAI API for LiteLLM's `openai/` provider.

Tests fake the hosted LLM at this one seam (STYLE.md #9): LiteLLM, httpx, SSE parsing,
retries, timeouts and fallbacks all run for real against 127.0.0.1.

Behaviour is chosen by the requested model name so one server can back several
deployments in a router config:
- `fail*`  -> HTTP 500 with an OpenAI-style error body;
- `hang*`  -> never answers (until the server stops), to exercise timeouts;
- `think*` -> wraps the reply in a `<think>` block first;
- anything else -> `echo: <last user message>` with deterministic usage counts,
  unless a rule added with `script(contains, reply)` matches the last user message
  (e.g. a fixed JSON answer for fact extraction); the most recently added rule wins.
"""
from __future__ import annotations

import json
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def _count(text: str) -> int:
    """Deterministic stand-in for a tokenizer: one token per whitespace-separated word."""
    return len(text.split())


def reply_for(model: str, messages: list[dict[str, Any]]) -> str:
    """The text the fake answers with; tests use it to build expectations."""
    last_user = next((m.get("content") or "" for m in reversed(messages) if m.get("role") == "user"), "")
    if isinstance(last_user, list):  # content parts
        last_user = " ".join(p.get("text", "") for p in last_user if isinstance(p, dict))
    # The last line only: a chat prompt's user message carries the remembered excerpts and
    # knowledge snippets with the question on its last line, and a real model answers in a
    # sentence or two; echoing the whole prompt stored answers hundreds of tokens long (and
    # echoes of echoes), which the memory worker then had to embed.
    lines = [line for line in str(last_user).splitlines() if line.strip()]
    question = lines[-1].strip() if lines else ""
    answer = f"echo: {question}"
    return f"<think>pensando sobre {question}</think>\n\n{answer}" if model.startswith("think") else answer


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output quiet
        pass

    def _send_json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            models = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"}
                      for m in ("fake-ok", "fail-500", "hang", "think-ok")]
            self._send_json(200, {"object": "list", "data": models})
        else:
            self._send_json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send_json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
            return
        model = str(body.get("model", ""))
        self.server.requests.append({"path": self.path, "body": body,
                                     "authorization": self.headers.get("Authorization")})
        if self.server.before_reply is not None:  # a test acting "while the model generates"
            self.server.before_reply(body)
        if model.startswith("fail"):
            self._send_json(500, {"error": {"message": "fake upstream failure", "type": "server_error"}})
            return
        if model.startswith("hang"):
            self.server.stopping.wait()  # released by stop(); the client times out first
            self.close_connection = True
            return
        text = self.server.scripted(body.get("messages") or []) or reply_for(model, body.get("messages") or [])
        # A real model stops at max_tokens (finish_reason "length"); an echo of a long prompt (the
        # memory worker's summary of a whole conversation) would otherwise come back whole.
        finish = "stop"
        if isinstance(limit := body.get("max_tokens") or body.get("max_completion_tokens"), int) \
                and _count(text) > limit > 0:
            text, finish = " ".join(text.split()[:limit]), "length"
        prompt_tokens = sum(_count(str(m.get("content") or "")) for m in body.get("messages") or [])
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": _count(text),
                 "total_tokens": prompt_tokens + _count(text)}
        if body.get("stream"):
            self._stream(model, text, usage, bool((body.get("stream_options") or {}).get("include_usage")), finish)
            return
        self._send_json(200, {
            "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
            "usage": usage,
        })

    def _stream(self, model: str, text: str, usage: dict[str, int], include_usage: bool,
                finish: str = "stop") -> None:
        # No Content-Length: the SSE body ends when the connection closes.
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()), "model": model}

        def event(payload: dict[str, Any] | str) -> None:
            data = payload if isinstance(payload, str) else json.dumps(payload)
            self.wfile.write(f"data: {data}\n\n".encode())
            self.wfile.flush()

        # Small pieces (4 chars) so think tags are split across chunks.
        pieces = [text[i:i + 4] for i in range(0, len(text), 4)]
        event({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]})
        for piece in pieces:
            event({**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
        event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        if include_usage:
            event({**base, "choices": [], "usage": usage})
        event("[DONE]")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    requests: list[dict[str, Any]]
    stopping: threading.Event
    scripts: list[tuple[str, str]]
    before_reply: Any

    def scripted(self, messages: list[dict[str, Any]]) -> str | None:
        last_user = next((str(m.get("content") or "") for m in reversed(messages) if m.get("role") == "user"), "")
        return next((reply for contains, reply in reversed(self.scripts) if contains in last_user), None)


class FakeOpenAIServer:
    """Start/stop handle; `requests` records every chat request body for assertions."""

    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)  # port 0: the OS picks a free one
        self._server.requests = []
        self._server.scripts = []
        self._server.before_reply = None
        self._server.stopping = threading.Event()
        # A short poll interval makes stop() (shutdown) return in ~50 ms instead of 0.5 s.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-openai", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self._server.requests

    def script(self, contains: str, reply: str) -> None:
        """Answer `reply` to any request whose last user message contains `contains`."""
        self._server.scripts.append((contains, reply))

    def before_reply(self, hook: Any) -> None:
        """Call `hook(request_body)` in the server thread before each answer (None: stop)."""
        self._server.before_reply = hook

    def start(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.stopping.set()  # release hanging handlers before closing
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextmanager
def fake_openai_server() -> Iterator[str]:
    """`with fake_openai_server() as base_url:` -> "http://127.0.0.1:<port>/v1"."""
    server = FakeOpenAIServer().start()
    try:
        yield server.base_url
    finally:
        server.stop()


_LITELLM_CONFIG = """
model_list:
  - {{model_name: renum-local, litellm_params: {{model: renum-llamacpp/default}}}}
  - {{model_name: {model}, litellm_params: {{model: openai/fake-ok, api_key: sk-bench, api_base: {base}, timeout: 10}}}}
router_settings:
  num_retries: 0
"""


def litellm_config(model: str, base_url: str) -> Path:
    """A LiteLLM router config (for RENUM_LITELLM_CONFIG) whose model group `model` is this fake
    at `base_url`, next to the local model, without retries; written to a new temporary folder."""
    path = Path(tempfile.mkdtemp()) / "litellm.yaml"
    path.write_text(_LITELLM_CONFIG.format(model=model, base=base_url))
    return path
