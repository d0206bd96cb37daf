"""Prompt templates: declared inputs, the org-template sandbox, and the token budget."""
from __future__ import annotations

import json
import re

import pytest

from api.prompts import service as prompts
from api.prompts.service import PromptError, Section, approx_tokens, fit_budget

TEMPLATES = ["system", "rag_answer", "summarize_session", "extract_facts"]
TURNS = [{"role": "user", "content": "Moro em Campinas e calço 38."}, {"role": "assistant", "content": "Anotado!"}]


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_packaged_template_declares_inputs_and_mentions_both_languages(name: str) -> None:
    source = (prompts.PROMPTS_DIR / f"{name}.j2").read_text()
    spec = prompts.parse_inputs(source)
    assert spec.required
    # The chat templates are in Portuguese (what the small local model follows best, see
    # BENCHMARKS.md "Answers"); the language rule is in the system prompt, which every chat turn has.
    if name != "rag_answer":
        assert "Portuguese" in source or "português" in source
        assert "English" in source
    # Every variable the template reads is declared (so render() can check callers).
    from jinja2 import Environment, meta
    used = meta.find_undeclared_variables(Environment().parse(source))
    assert used <= spec.allowed


def test_render_packaged_templates() -> None:
    system = prompts.render("system", agent_name="Ana", business_name="Loja Sol", now="2026-12-01 09:30 UTC")
    assert system.startswith("Você é Ana, atendente virtual da Loja Sol")
    assert "Instruções" not in system
    # No clock in the packaged system prompt: it stays byte-identical across a conversation, so
    # llama.cpp's prefix cache covers it on follow-ups; the time goes in the last message.
    assert "09:30" not in system
    assert "diga que não sabe" in system
    assert prompts.render("rag_answer", question="Que horas?", now="2026-12-01 09:30 UTC").startswith(
        "Agora: 2026-12-01 09:30 UTC.")
    rag = prompts.render("rag_answer", question="Qual o horário?",
                         snippets=[{"title": "Horário", "text": "9h às 18h"}, {"text": "Sem título"}])
    assert "[1] Horário: 9h às 18h" in rag
    assert "[2] Sem título" in rag
    assert rag.rstrip().endswith("Qual o horário?")
    assert "não invente" in prompts.render("rag_answer", question="Qual o horário?")
    # A greeting or thanks (api/chat/small_talk.py) is not searched: no "nothing matches" note.
    assert prompts.render("rag_answer", question="Oi", small_talk=True, now="2026-12-01 09:30 UTC") == (
        "Agora: 2026-12-01 09:30 UTC.\n\nMensagem do cliente: Oi\n")
    summary = prompts.render("summarize_session", turns=TURNS)
    assert "user: Moro em Campinas" in summary
    assert "5 short sentences" in summary


def test_extract_facts_asks_for_strict_json_with_a_parseable_example() -> None:
    text = prompts.render("extract_facts", turns=TURNS, known_facts=[{"key": "city", "value": "São Paulo"}])
    assert "ONLY a JSON array" in text
    assert '"key"' in text
    assert '"confidence"' in text
    example = json.loads(re.search(r"Example JSON: (\[.*\])", text).group(1))
    assert all(set(item) == {"key", "value", "confidence"} for item in example)
    assert "- city: São Paulo" in text
    # No way out: offered "return []", the 1.5B took it for most English dialogues (BENCHMARKS.md,
    # "Facts: no way out").
    assert "[]" not in text


def test_render_checks_inputs_against_the_declaration() -> None:
    with pytest.raises(PromptError) as err:
        prompts.render("rag_answer", snippets=[])
    assert err.value.status_code == 422
    assert "missing: question" in err.value.message
    with pytest.raises(PromptError, match="unknown: qeustion"):
        prompts.render("rag_answer", question="x", qeustion="typo")
    with pytest.raises(PromptError):
        prompts.render("no_such_template")


@pytest.mark.parametrize("source", [
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ question.__class__.__init__.__globals__ }}",
    "{{ question|attr('__class__') }}",
    "{{ '{0.__class__}'.format(question) }}",
    "{{ question.upper.__self__ }}",
    "{% set x = [] %}{{ x.append(1) }}",  # immutable sandbox: no mutating builtins
    "{{ 'a' * 1000000 }}",
    "{{ 9 ** 99999 }}",
    "{% for i in range(100000) %}.{% endfor %}",
])
def test_org_template_sandbox_blocks_abuse(source: str) -> None:
    with pytest.raises(PromptError) as err:
        prompts.render_org("rag_answer", source, question="oi")
    assert err.value.status_code == 422
    assert err.value.code == "prompt_forbidden"


@pytest.mark.parametrize(("source", "code"), [
    ("{% include 'system.j2' %}", "prompt_forbidden"),
    ("{% extends 'system.j2' %}", "prompt_forbidden"),
    ("{% import 'system.j2' as s %}", "prompt_forbidden"),
    ("{{ config }}", "prompt_inputs"),  # only the packaged template's declared inputs
    ("{{ cycler }}", "prompt_inputs"),  # sandbox globals are removed
    ("{% if %}", "prompt_syntax"),
])
def test_org_template_is_validated_before_saving(source: str, code: str) -> None:
    with pytest.raises(PromptError) as err:
        prompts.validate_org_template("rag_answer", source)
    assert err.value.code == code


def test_org_template_renders_declared_inputs_strictly() -> None:
    source = "Pergunta: {{ question }}\n{% for s in snippets or [] %}- {{ s.text }}\n{% endfor %}"
    out = prompts.render_org("rag_answer", source, question="Tem frete?", snippets=[{"text": "Frete grátis"}])
    assert out == "Pergunta: Tem frete?\n- Frete grátis\n"
    with pytest.raises(PromptError) as err:
        prompts.render_org("rag_answer", "{{ snippets[0].missing }}", question="q", snippets=[{}])
    assert err.value.code == "prompt_undefined"


def _section(name: str, n: int, size: int, priority: int, **kw) -> Section:
    return Section(name, [f"{name}{i}:" + "x" * size for i in range(n)], priority, **kw)


def test_budget_keeps_everything_that_fits() -> None:
    fitted = fit_budget([_section("system", 1, 40, 100, min_keep=1), _section("turns", 3, 40, 50)], budget=1000)
    assert fitted.dropped == {}
    assert len(fitted.sections["turns"]) == 3
    assert fitted.tokens <= 1000


def test_budget_drops_lowest_priority_then_oldest_turns() -> None:
    sections = [
        _section("system", 1, 400, 100, min_keep=1),
        _section("memories", 3, 200, 40),  # ranked best first: loses its last items
        _section("knowledge", 3, 200, 30),
        _section("turns", 6, 200, 50, min_keep=1, drop_oldest_first=True),
    ]
    total = sum(approx_tokens(i) + 4 for s in sections for i in s.items)
    fitted = fit_budget(sections, budget=total - 200)  # 4 items of 57 tokens must go
    assert fitted.tokens <= total - 200
    assert fitted.dropped == {"knowledge": 3, "memories": 1}
    assert fitted.sections["knowledge"] == []
    assert fitted.dropped["knowledge"] == 3
    assert fitted.sections["memories"] == ["memories0:" + "x" * 200, "memories1:" + "x" * 200]
    assert fitted.sections["turns"] == sections[3].items[:]  # not reached yet
    tight = fit_budget(sections, budget=approx_tokens("x" * 400) + 4 + 2 * 60)
    assert tight.sections["turns"] == list(sections[3].items[-2:])  # newest turns survive
    assert tight.sections["memories"] == []
    assert tight.sections["system"] == list(sections[0].items)


def test_budget_raises_when_required_sections_do_not_fit() -> None:
    with pytest.raises(PromptError) as err:
        fit_budget([_section("system", 1, 4000, 100, min_keep=1)], budget=100)
    assert err.value.code == "context_over_budget"
    assert err.value.status_code == 422


def test_budget_accepts_an_exact_token_counter() -> None:
    fitted = fit_budget([_section("turns", 4, 10, 1, drop_oldest_first=True)], budget=2 * (1 + 4), count=lambda t: 1)
    assert fitted.sections["turns"] == ["turns2:" + "x" * 10, "turns3:" + "x" * 10]


def test_approx_tokens_is_a_quarter_of_the_characters_rounded_up() -> None:
    assert approx_tokens("") == 0
    assert approx_tokens("abcd") == 1
    assert approx_tokens("abcde") == 2


def test_an_excerpt_that_starts_with_its_title_is_not_titled_twice() -> None:
    from uuid import uuid4

    from api.chat.context import Source
    from api.chat.prompt import _snippet
    titled = Source("chunk", uuid4(), 1.0, "Parcelamento  no cartão\n\nNo cartão parcelamos em até 10x.",
                    title="Parcelamento no Cartão")
    assert _snippet(titled) == {"title": "", "text": titled.text}
    plain = Source("chunk", uuid4(), 1.0, "No cartão parcelamos em até 10x.", title="Parcelamento no cartão")
    assert _snippet(plain) == {"title": "Parcelamento no cartão", "text": plain.text}
    rag = prompts.render("rag_answer", question="Parcela?", snippets=[_snippet(titled), _snippet(plain)])
    assert "[1] Parcelamento  no cartão\n\nNo cartão" in rag
    assert "[2] Parcelamento no cartão: No cartão" in rag


def test_a_greeting_is_answered_without_excerpts_note_or_clock() -> None:
    # A small model copied the clock into its reply to "show, brigadão" ("... em 2026-12-04 13:08 UTC"):
    # small talk (api/chat/small_talk.py) gets neither the clock nor the "nothing matches" note.
    from api.chat.context import Gathered
    from api.chat.prompt import build
    target = {"agent_name": "Léo", "business_name": "Passo Leve", "contact_name": None, "system_prompt": "",
              "timezone": "America/Sao_Paulo"}
    greeting = build(target, "obrigado!", Gathered(small_talk=True), budget=2000, count=approx_tokens)
    assert greeting.messages[-1] == {"role": "user", "content": "Mensagem do cliente: obrigado!\n"}
    question = build(target, "Vocês abrem domingo?", Gathered(), budget=2000, count=approx_tokens)
    assert question.messages[-1]["content"].startswith("Agora: ")
    assert "Pergunta: Vocês abrem domingo?" in question.messages[-1]["content"]
    assert greeting.messages[0] == question.messages[0]  # the system prompt is the same either way
