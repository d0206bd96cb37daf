"""LLM layer: real llama.cpp (packaged SmolLM2), real LiteLLM Router, fake hosted API over HTTP."""
from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.core.config import get_settings
from api.llm import client as llm
from api.llm.errors import LLMContextTooLong, LLMTimeout, LLMUnavailable, UnknownModel
from api.llm import repetition
from api.llm.llama_engine import Run, count_tokens, get_engine, packaged_model_path, template_opens_think
from api.llm.router_config import RouterConfig
from api.llm.think import ThinkFilter, strip_think
from tests.fakes import FakeOpenAIServer, fake_openai, fake_openai_server, reply_for  # noqa: F401

HELLO = [{"role": "user", "content": "Say hello to Maria."}]
ASK = [{"role": "user", "content": "Qual o horário da loja?"}]
# One deployment per fake behaviour (the fake picks its behaviour from the model name).
FAKE_GROUPS = {"healthy": "fake-ok", "thinker": "think-ok", "flaky": "fail-500", "flaky-local": "fail-500",
               "broken": "fail-500", "hanging": "hang", "hanging-alone": "hang"}
TEST_CONFIG = {
    "model_list": [
        {"model_name": "renum-local", "litellm_params": {"model": "renum-llamacpp/default", "timeout": 60}},
        *({"model_name": group, "litellm_params": {"model": f"openai/{fake}", "api_key": "os.environ/FAKE_KEY",
                                                   "api_base": "os.environ/FAKE_BASE"}}
          for group, fake in FAKE_GROUPS.items()),
        {"model_name": "unkeyed",
         "litellm_params": {"model": "openai/fake-ok", "api_key": "os.environ/RENUM_TEST_UNSET_KEY"}},
    ],
    "router_settings": {
        "num_retries": 1,
        "retry_policy": {"TimeoutErrorRetries": 0, "InternalServerErrorRetries": 0},  # keep tests fast
        "fallbacks": [{"flaky": ["healthy", "renum-local"]}, {"flaky-local": ["renum-local"]},
                      {"hanging": ["renum-local"]}, {"unkeyed": ["healthy"]}],
    },
}


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.fixture
def router(fake_openai: FakeOpenAIServer, tmp_path: Path) -> llm.LLMRouter:
    path = tmp_path / "litellm.yaml"
    path.write_text(yaml.safe_dump(TEST_CONFIG))
    return llm.build_router(path, env={"FAKE_KEY": "sk-fake", "FAKE_BASE": fake_openai.base_url})


async def collect(stream: llm.ChatStream) -> str:
    return "".join([delta async for delta in stream])


# --- local model (llama.cpp) --------------------------------------------------------------------

def test_packaged_gguf_is_found() -> None:
    path = packaged_model_path()
    assert path.suffix == ".gguf"
    assert path.stat().st_size > 1_000_000
    if not get_settings().local_model_path:  # RENUM_LOCAL_MODEL_PATH may point at another GGUF
        assert get_engine().path == path


def test_the_loaded_model_gives_the_same_logits_whatever_the_batch() -> None:
    """On CPUs whose fast kernels (AMX tiles) change a model's logits with the batch size, the
    engine loads that model without them: a cached prefix must not change an answer or a margin."""
    from api.llm.llama_engine import batch_invariant
    engine = get_engine()
    with engine.lock:
        assert batch_invariant(engine.llm)


def test_local_completion(router: llm.LLMRouter) -> None:
    result = run(llm.chat(HELLO, "renum-local", max_tokens=8, temperature=0.0, router=router))
    assert result.text.strip()
    assert result.model == "renum-local"
    assert result.fallbacks == 0
    assert result.prompt_tokens > 5
    assert 0 < result.completion_tokens <= 8
    assert result.latency_ms > 0


@pytest.mark.no_stack
@pytest.mark.parametrize("text,loops,kept", [
    ("Aqui está a resposta:\n\nAqui está a resposta:\n\nAqui está a resposta:\n\nAqui", True, "Aqui está a resposta:"),
    ("Sinceramente, ao que pode tirar, ao que pode tirar, ao que pode tirar, ao que", True,
     "Sinceramente, ao que pode tirar"),
    ("Oi! Posso ajudar com mais alguma coisa? Posso ajudar com mais alguma coisa? Posso ajudar com mais alguma "
     "coisa? Até logo.", False, "Oi! Posso ajudar com mais alguma coisa? Até logo."),
    ("O frete custa R$ 19,90 e chega em 3 a 6 dias úteis.", False, None),
    ("Pedido 1010 1010 1010, ok.", False, None),
    ("Tabela:\n" + "-" * 80, False, None),
])
def test_a_looping_answer_is_cut_and_stored_once(text: str, loops: bool, kept: str | None) -> None:
    assert repetition.looping(text) is loops
    assert repetition.collapse(text) == (kept or text.strip())


def test_the_engine_stops_a_loop_before_max_tokens() -> None:
    run_ = Run("test", 60)
    text = "".join(get_engine().generate([{"role": "user", "content": "Escreva 'Aqui está a resposta:' vinte vezes."}],
                                         {"max_tokens": 200, "temperature": 0.0}, run_))
    assert run_.completion_tokens < 100  # SmolLM2 loops on this; left alone it writes all 200
    assert repetition.looping(text)
    assert len(repetition.collapse(text)) < len(text)


def test_local_streaming_reports_usage(router: llm.LLMRouter) -> None:
    async def go() -> tuple[str, llm.ChatStream]:
        stream = await llm.chat(HELLO, "renum-local", stream=True, max_tokens=8, temperature=0.0, router=router)
        return await collect(stream), stream

    text, stream = run(go())
    assert text.strip()
    assert stream.model == "renum-local"
    assert stream.usage is not None
    assert 0 < stream.usage[1] <= 8
    assert stream.first_token_ms is not None
    assert stream.latency_ms is not None
    assert stream.first_token_ms <= stream.latency_ms


def test_local_stream_closed_early_frees_the_model(router: llm.LLMRouter) -> None:
    async def go() -> str:
        stream = await llm.chat(HELLO, "renum-local", stream=True, max_tokens=200, router=router)
        async for _ in stream:
            break  # the client went away after the first delta
        await stream.aclose()
        again = await llm.chat(HELLO, "renum-local", max_tokens=4, timeout=5, router=router)
        return again.text

    assert run(go())


def test_local_concurrent_requests_are_serialized(router: llm.LLMRouter) -> None:
    async def go() -> list[llm.ChatResult]:
        calls = [llm.chat(ASK, "renum-local", max_tokens=6, router=router) for _ in range(3)]
        return list(await asyncio.gather(*calls))

    assert all(r.completion_tokens > 0 for r in run(go()))


def test_local_timeout_stops_generation(router: llm.LLMRouter) -> None:
    story = [{"role": "user", "content": "Write a very long story about a cat."}]
    with pytest.raises(LLMTimeout) as err:
        run(llm.chat(story, "renum-local", max_tokens=400, timeout=0.01, router=router))
    assert err.value.status_code == 504
    assert run(llm.chat(HELLO, "renum-local", max_tokens=4, timeout=5, router=router)).text  # lock released


def test_local_provider_sync_paths(router: llm.LLMRouter) -> None:
    import litellm  # the router fixture registered the provider; workers may call LiteLLM synchronously
    reply = litellm.completion(model="renum-llamacpp/default", messages=HELLO, max_tokens=4)
    assert reply.choices[0].message.content
    assert reply.usage.completion_tokens <= 4
    chunks = list(litellm.completion(model="renum-llamacpp/default", messages=HELLO, max_tokens=4, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_router_survives_several_event_loops(router: llm.LLMRouter) -> None:
    # Celery tasks are sync and call asyncio.run(chat(...)) with the process-wide router.
    for model in ("healthy", "healthy", "renum-local", "healthy"):
        assert run(llm.chat(ASK, model, max_tokens=4, router=router)).model == model


def test_prompt_longer_than_the_context_is_a_422(router: llm.LLMRouter) -> None:
    too_long = [{"role": "user", "content": "palavra " * (get_settings().local_model_ctx + 100)}]
    with pytest.raises(LLMContextTooLong) as err:
        run(llm.chat(too_long, "renum-local", max_tokens=4, router=router))
    assert err.value.status_code == 422


def test_token_count_uses_the_model_tokenizer() -> None:
    assert count_tokens("Olá, tudo bem?") > 3
    assert count_tokens("") == 0


def test_r1_style_template_is_detected() -> None:
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter
    r1 = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{% endfor %}"
          "{% if add_generation_prompt %}<|Assistant|><think>\n{% endif %}")
    assert template_opens_think(Jinja2ChatFormatter(template=r1, eos_token="</s>", bos_token="<s>"))
    if not get_settings().local_model_path:
        assert not get_engine().opens_think  # SmolLM2's template does not


# --- router: hosted fake, fallbacks, timeouts ------------------------------------------------------

def test_fallback_from_failing_hosted_to_healthy_hosted(router: llm.LLMRouter, fake_openai: FakeOpenAIServer) -> None:
    result = run(llm.chat(ASK, "flaky", max_tokens=16, router=router))
    assert result.text == reply_for("fake-ok", ASK)
    assert result.model == "healthy"
    assert result.fallbacks >= 1
    assert (result.prompt_tokens, result.completion_tokens) == (5, 6)  # fake counts words
    assert [r["body"]["model"] for r in fake_openai.requests] == ["fail-500", "fake-ok"]
    assert fake_openai.requests[0]["authorization"] == "Bearer sk-fake"


def test_fallback_from_failing_hosted_to_local(router: llm.LLMRouter) -> None:
    result = run(llm.chat(ASK, "flaky-local", max_tokens=6, router=router))
    assert result.model == "renum-local"
    assert result.text
    assert result.completion_tokens > 0


def test_streaming_falls_back_before_the_first_token(router: llm.LLMRouter) -> None:
    async def go() -> tuple[str, llm.ChatStream]:
        stream = await llm.chat(ASK, "flaky", stream=True, max_tokens=16, router=router)
        return await collect(stream), stream

    text, stream = run(go())
    assert text == reply_for("fake-ok", ASK)
    assert stream.model == "healthy"
    assert stream.usage == (5, 6)


def test_hosted_reasoning_is_stripped_in_full_and_streamed_text(router: llm.LLMRouter) -> None:
    expected = reply_for("fake-ok", ASK)  # "think-ok" answers the same after a <think> block
    assert "<think>" in reply_for("think-ok", ASK)
    assert run(llm.chat(ASK, "thinker", router=router)).text == expected

    async def go() -> str:
        return await collect(await llm.chat(ASK, "thinker", stream=True, router=router))

    assert run(go()) == expected


def test_hanging_hosted_times_out_then_local_answers(router: llm.LLMRouter) -> None:
    started = time.monotonic()
    result = run(llm.chat(ASK, "hanging", max_tokens=6, timeout=0.5, router=router))
    assert result.model == "renum-local"
    assert result.fallbacks >= 1
    assert time.monotonic() - started < 5


def test_hanging_hosted_without_fallback_raises_timeout(router: llm.LLMRouter) -> None:
    started = time.monotonic()
    with pytest.raises(LLMTimeout):
        run(llm.chat(ASK, "hanging-alone", timeout=0.3, router=router))
    assert time.monotonic() - started < 3


def test_streaming_timeout_without_fallback(router: llm.LLMRouter) -> None:
    async def go() -> str:
        return await collect(await llm.chat(ASK, "hanging-alone", stream=True, timeout=0.3, router=router))

    with pytest.raises(LLMTimeout):
        run(go())


def test_failure_without_fallback_is_unavailable(router: llm.LLMRouter) -> None:
    with pytest.raises(LLMUnavailable) as err:
        run(llm.chat(ASK, "broken", router=router))
    assert (err.value.status_code, err.value.code) == (503, "llm_unavailable")
    assert "fake upstream failure" not in err.value.message  # provider text stays in the logs


def test_cooled_down_group_is_unavailable_not_a_crash(fake_openai: FakeOpenAIServer) -> None:
    # Once every deployment of a group is cooling down LiteLLM raises a ValueError subclass.
    deployment = {"api_key": "sk-fake", "api_base": fake_openai.base_url}
    model_list = [{"model_name": "pair", "litellm_params": {"model": f"openai/{m}", **deployment}}
                  for m in ("fail-500", "fail-500-b")]
    router = llm.LLMRouter(RouterConfig(model_list, {"allowed_fails": 1, "cooldown_time": 30, "num_retries": 0}))
    for _ in range(5):
        with pytest.raises(LLMUnavailable):
            run(llm.chat(ASK, "pair", router=router))
    assert len(fake_openai.requests) < 5  # the last calls were refused by the cooldown, not sent


def test_deployment_without_key_is_skipped(router: llm.LLMRouter) -> None:
    assert "unkeyed" in router.config.skipped_groups
    assert "unkeyed" not in router.config.model_groups
    assert all("unkeyed" not in entry for entry in router.config.router_settings["fallbacks"])
    assert run(llm.chat(ASK, "unkeyed", max_tokens=4, router=router)).model == "renum-local"
    with pytest.raises(UnknownModel):
        run(llm.chat(ASK, "no-such-model", router=router))


def test_project_config_without_keys_is_local_only() -> None:
    config = llm.build_router(get_settings().litellm_config, env={}).config
    assert config.model_groups == ["renum-local"]
    assert config.router_settings["fallbacks"] == []
    assert config.skipped_groups == {"gpt-4o-mini", "deepseek-chat"}


def test_project_config_routes_to_hosted_openai() -> None:
    with fake_openai_server() as base_url:
        router = llm.build_router(get_settings().litellm_config,
                                  env={"OPENAI_API_KEY": "sk-test", "OPENAI_API_BASE": base_url})
        assert router.config.router_settings["fallbacks"] == [{"gpt-4o-mini": ["renum-local"]}]
        result = run(llm.chat(ASK, "gpt-4o-mini", max_tokens=16, router=router))
    assert result.model == "gpt-4o-mini"
    assert result.text == reply_for("gpt-4o-mini", ASK)


def test_fake_server_lists_models(fake_openai: FakeOpenAIServer) -> None:
    import httpx
    models = httpx.get(f"{fake_openai.base_url}/models").json()["data"]
    assert {"fake-ok", "fail-500", "hang"} <= {m["id"] for m in models}


# --- think stripping ---------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "visible"), [
    ("Olá!", "Olá!"),
    ("<think>o cliente quer preço</think>\n\nO preço é R$ 10.", "O preço é R$ 10."),
    ("<think>a</think>A<think>b</think> B", "A B"),
    ("Antes <think>x</think> depois", "Antes depois"),
    ("<think>cut off by max_tokens", ""),
    ("Resposta <think>unclosed", "Resposta"),
    ("reasoning opened by the template</think>\n\nAnswer", "Answer"),  # R1 distill: no opening tag
    ("</think>Answer", "Answer"),
    ("<think></think>", ""),
    ("1 < 2 and <thin ice>", "1 < 2 and <thin ice>"),
    ("ends with a partial tag <thi", "ends with a partial tag <thi"),
    # No nesting: the first </think> closes the block and the later one is a stray tag.
    ("<think>nested <think>inner</think> tail</think>end", "tailend"),
    ("Oi<think>x</think>, tudo bem?", "Oi, tudo bem?"),
])
def test_strip_think(raw: str, visible: str) -> None:
    assert strip_think(raw) == visible


STREAM_CASES = ["<think>o cliente quer preço</think>\n\nO preço é R$ 10.", "Antes <think>x</think> depois",
                "Resposta <think>unclosed", "1 < 2 and <thin ice> <", "A<think>b</think>C<think>d</think>E",
                "sem raciocínio nenhum"]


@pytest.mark.parametrize("raw", STREAM_CASES)
def test_stream_filter_matches_full_text_for_every_split(raw: str) -> None:
    # Every way of cutting the text into three chunks, so tags are split at every position.
    for i, j in itertools.combinations(range(len(raw) + 1), 2):
        f = ThinkFilter()
        out = "".join(f.feed(part) for part in (raw[:i], raw[i:j], raw[j:])) + f.flush()
        assert out.strip() == strip_think(raw), (i, j)


def test_stream_filter_char_by_char_and_starts_inside() -> None:
    f = ThinkFilter(starts_inside=True)
    out = "".join(f.feed(ch) for ch in "raciocínio</think>\n\nResposta final") + f.flush()
    assert out == "Resposta final"
    g = ThinkFilter()
    assert g.feed("Olá <th") == "Olá "
    assert g.inside is False
    assert g.feed("ink>segredo</th") == ""
    assert g.inside is True
    assert g.feed("ink> mundo") == "mundo"
    assert g.flush() == ""
