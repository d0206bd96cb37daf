"""The `renum-local` engine when the model runs in its own process (RENUM_LOCAL_MODEL_URL).

Same interface as api/llm/llama_engine.Engine (name, count, yes_no, generate), so the LiteLLM
provider, the answer check and the prompt budget do not know where the model runs. Talks to
api/llm/server.py over HTTP: generation streams (closing the stream stops the model at the next
token), token counts are cached (a prompt's system text and turns repeat on every message), and
the server being down is a connection error the router falls back from like any provider's.
"""
from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import litellm

from api.llm.errors import LLMConfigError
from api.llm.llama_engine import PROVIDER

COUNT_CACHE = 4096
CONNECT_S = 3.0


class RemoteEngine:
    def __init__(self, url: str, key: str = "", lane: str = "interactive") -> None:
        self.url = url.rstrip("/")
        self.path = self.url  # where the model is, for status lines and benchmarks
        # The server's queue this process uses: the memory worker's jobs go to `background`, so
        # customers' answers never wait behind them (api/llm/server.py).
        headers = {"X-Renum-Lane": lane} | ({"Authorization": f"Bearer {key}"} if key else {})
        self._http = httpx.Client(base_url=self.url, headers=headers,
                                  timeout=httpx.Timeout(60.0, connect=CONNECT_S))
        self._name: str | None = None
        self._name_lock = threading.Lock()
        self._count = functools.lru_cache(maxsize=COUNT_CACHE)(self._count_uncached)

    @property
    def name(self) -> str:
        """The served model's name (thresholds are per model), asked once."""
        with self._name_lock:
            if self._name is None:
                self._name = str(self._call("GET", "/health", None, 10.0)["model"])
            return self._name

    def health(self) -> dict:
        return self._call("GET", "/health", None, 5.0)

    def _call(self, method: str, path: str, body: dict | None, timeout: float) -> dict:
        try:
            response = self._http.request(method, path, json=body, timeout=httpx.Timeout(timeout, connect=CONNECT_S))
        except httpx.TimeoutException as exc:
            raise litellm.Timeout(message=f"local model server {self.url}: {exc}", model="default",
                                  llm_provider=PROVIDER) from exc
        except httpx.HTTPError as exc:
            raise self._unreachable(exc, "default") from exc
        if response.status_code != 200:
            raise _status_error(response)
        return response.json()

    def _count_uncached(self, text: str) -> int:
        return int(self._call("POST", "/v1/renum/count", {"texts": [text]}, 30.0)["tokens"][0])

    def count(self, text: str) -> int:
        return self._count(text)

    def yes_no(self, messages: list[dict[str, Any]], question: str, timeout_s: float) -> float:
        body = {"messages": _plain(messages), "question": question, "timeout": timeout_s}
        return float(self._call("POST", "/v1/renum/yes-no", body, timeout_s + 5)["margin"])

    def generate(self, messages: list[dict[str, Any]], params: dict[str, Any], run) -> Iterator[str]:
        """Text deltas from the server's stream; fills `run` with usage and finish reason."""
        remaining = None if run.deadline is None else max(0.1, run.deadline - time.monotonic())
        body = {"messages": _plain(messages), "stream": True, **params, "timeout": remaining}
        timeout = httpx.Timeout(None if remaining is None else remaining + 5, connect=CONNECT_S)
        try:
            with self._http.stream("POST", "/v1/chat/completions", json=body, timeout=timeout) as response:
                if response.status_code != 200:
                    response.read()
                    raise _status_error(response)
                for line in response.iter_lines():
                    if run.cancel.is_set():
                        return  # leaving the block closes the connection: the server stops the model
                    if not line.startswith("data: ") or line == "data: [DONE]":
                        continue
                    chunk = json.loads(line[len("data: "):])
                    if "error" in chunk:
                        raise _error_of(chunk["error"], 500)
                    choice = chunk["choices"][0]
                    if chunk.get("usage"):
                        run.prompt_tokens = chunk["usage"]["prompt_tokens"]
                        run.completion_tokens = chunk["usage"]["completion_tokens"]
                    run.finish_reason = choice.get("finish_reason") or run.finish_reason
                    if delta := choice["delta"].get("content"):
                        yield delta
        except httpx.TimeoutException as exc:
            raise run.timeout_error(f"local model server {self.url}: {exc}") from exc
        except httpx.HTTPError as exc:
            raise self._unreachable(exc, run.model) from exc

    def _unreachable(self, exc: httpx.HTTPError, model: str) -> litellm.APIConnectionError:
        return litellm.APIConnectionError(message=f"local model server {self.url} unreachable: {exc}",
                                          llm_provider=PROVIDER, model=model)


def _plain(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{"role": str(m["role"]), "content": str(m.get("content") or "")} for m in messages]


def _status_error(response: httpx.Response) -> Exception:
    try:
        body = response.json()
        error = body.get("error") or {"message": body.get("detail")}
    except ValueError:
        error = {"message": response.text[:300]}
    return _error_of(error, response.status_code)


def _error_of(error: dict, status: int) -> Exception:
    message = f"local model server: {error.get('message')}"
    code = error.get("code")
    if code == "context_length_exceeded":
        return litellm.ContextWindowExceededError(message=message, model="default", llm_provider=PROVIDER)
    if code == "model_busy":
        return litellm.Timeout(message=message, model="default", llm_provider=PROVIDER)
    if status == 401:
        return LLMConfigError(f"{message} (RENUM_LOCAL_MODEL_KEY must match the server's)")
    return litellm.APIConnectionError(message=message, llm_provider=PROVIDER, model="default")
