"""Do the knowledge excerpts answer the question? The local model is asked before it answers.

A small local model answers every question from whatever excerpts it is given: asked "Vocês
vendem meias?" with three excerpts about shoes it says yes, asked for a Wi-Fi password it makes
one up. Told in the prompt to say it does not know, the packaged Qwen 1.5B refused three answerable
questions in four (BENCHMARKS.md, "Say you don't know"). Asked on its own, after the prompt,
whether the excerpts hold the answer, its yes/no margin (log P(sim) - log P(não) of its first
word; no text is generated) tells the two apart far better. Below the model's threshold the
agent does not generate: it says it does not have that information, cites nothing, and marks
the answer (`metadata.answer_check`) so channels hand the conversation to a person.

Only for the local model, and only for models with a measured threshold (or a configured one). When
the prompt also holds memories of the customer (a returning customer: the answer may be in what they
said before), the question asks about both, with its own threshold (THRESHOLDS_WITH_MEMORY); when it
holds neither excerpts nor memories (an agent without a knowledge base), about the company's
instructions and the conversation (THRESHOLDS_WITHOUT_KNOWLEDGE); when it holds memories but no
excerpts (that agent and a returning customer), about the instructions, the memories and the
conversation (THRESHOLDS_MEMORY_ONLY). Greetings and thanks are not judged.
The question is asked after the prompt's own messages, so llama.cpp evaluates the prompt once
for both: the check costs the question's ~25 tokens, and the answer then starts from the cache.
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass

import anyio

from api.chat.prompt import Prompt
from api.core.config import get_settings
from api.llm import client as llm
from api.memory import text

log = logging.getLogger(__name__)

QUESTION = "Os trechos acima têm a resposta para a pergunta do cliente? Responda só sim ou não."
# When the prompt also holds what the agent remembers of the customer (a returning customer), the
# answer may be there instead ("qual número eu calço?"): the question names both.
QUESTION_WITH_MEMORY = ("Os trechos ou o que você lembra do cliente, acima, têm a resposta para a pergunta "
                        "dele? Responda só sim ou não.")
# log P(sim) - log P(não) below which the excerpts are taken not to answer, per packaged model and
# question (a model without one is not asked unless the agent or the service sets one). qwen1.5b:
# chosen on the help-center tuning questions (bench/answers.py), with memories on a returning
# customer's (`--returning`), both then run on held-out questions (BENCHMARKS.md, "Answers").
THRESHOLDS = {"qwen1.5b": 0.8}
THRESHOLDS_WITH_MEMORY = {"qwen1.5b": 0.7}
# Without knowledge excerpts or memories (an agent with no knowledge base, a new customer) the
# prompt still holds the company's instructions and the conversation, and a small model answered
# 62 of 62 business questions they do not answer with invented facts ("Patrocinamos o time do
# Corinthians", "fundada em 1998"). qwen1.5b at 1.0: chosen on 15 + 46 tuning questions, then on
# held-out ones (other instructions) it kept 10 of 11 answerable and stopped 51 of 62 (BENCHMARKS.md,
# "Agents without a knowledge base"). Small talk (api/chat/small_talk.py) is never judged.
QUESTION_WITHOUT_KNOWLEDGE = ("As instruções da empresa ou a conversa acima têm a resposta para a pergunta do "
                              "cliente? Responda só sim ou não.")
THRESHOLDS_WITHOUT_KNOWLEDGE = {"qwen1.5b": 1.0}
# Memories without knowledge excerpts: an agent with no knowledge base talking to a returning
# customer (memory retrieval brings back some of their past turns for any message), so the answer
# may be in the instructions, in what the customer said before, or nowhere. Unjudged, such an agent
# invented an answer to 46 of 48 business questions its instructions do not answer. qwen1.5b at 1.0:
# chosen on tuning instructions and history questions (bench/answers.py --instructions A
# --returning), then on held-out ones (set B, m11-m20) it stopped 39 of those 46 and cost 6 of 21
# right answers, 3 of them about the customer's history (BENCHMARKS.md, "A returning customer of an
# agent without a knowledge base"). The margin separates less well here (AUC ~0.78) than with
# excerpts (~0.88).
# On English LoCoMo questions (two friends' conversations, asked with memory) its margin ranked the
# unanswerable questions *above* the answerable ones (AUC 0.40) and 1.0 refused all 10 right answers of
# 80, so it was first kept to Portuguese. On English customer-service questions (bench/answers.py
# --language en --instructions A|B --returning, held out, a rule fixed before the runs) it held: gain
# +16 on sets A and B (22 of 31 invented answers and 4 wrong ones stopped, 5 of 25 right answers lost) (BENCHMARKS.md, "Answers in English"), so it applies to both languages; an agent
# meant to talk about a person's life rather than a business should turn the check off.
QUESTION_MEMORY_ONLY = ("As instruções da empresa, o que você lembra do cliente ou a conversa acima têm a "
                        "resposta para a pergunta do cliente? Responda só sim ou não.")
THRESHOLDS_MEMORY_ONLY = {"qwen1.5b": 1.0}
_QUESTIONS = {"knowledge": (QUESTION, THRESHOLDS),
              "knowledge+memory": (QUESTION_WITH_MEMORY, THRESHOLDS_WITH_MEMORY),
              "instructions": (QUESTION_WITHOUT_KNOWLEDGE, THRESHOLDS_WITHOUT_KNOWLEDGE),
              "memory": (QUESTION_MEMORY_ONLY, THRESHOLDS_MEMORY_ONLY)}
# The languages of the customer's message in which a question's measured thresholds hold (all where
# absent); outside them the check runs only with a configured threshold.
MEASURED_LANGUAGES: dict[str, set[str]] = {"memory": {"pt", "en"}}
NOT_FOUND = {
    "pt": "Não encontrei essa informação aqui. Quer que eu chame alguém da equipe para ajudar?",
    "en": "I couldn't find that information here. Would you like me to call someone from the team to help?",
}
# What a channel sends instead when it hands such a conversation to a person and the integration
# has no handoff_message of its own (api/channels/reply.py).
HANDED_OFF = {
    "pt": "Não encontrei essa informação aqui. Vou passar sua mensagem para alguém da equipe.",
    "en": "I couldn't find that information here. I'm passing your message to someone from the team.",
}


@dataclass(frozen=True)
class Check:
    answerable: bool
    margin: float
    threshold: float
    ms: int
    kind: str = "knowledge"  # what the model was asked about: see applies()

    @property
    def with_memory(self) -> bool:
        return self.kind in ("knowledge+memory", "memory")

    def record(self) -> dict:
        return asdict(self) | {"margin": round(self.margin, 3), "with_memory": self.with_memory}


def _number(value) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def threshold_for(model_name: str, agent_settings: dict | None = None, kind: str = "knowledge",
                  language: str = "pt") -> float | None:
    """The agent's `settings.answer_check_threshold`, else the service's, else the one measured
    for the model and question (`kind`, see applies()) where it was measured to hold for the
    message's `language` (MEASURED_LANGUAGES); None (no check) when the agent or the service turns
    it off."""
    agent_settings = agent_settings or {}
    s = get_settings()
    if agent_settings.get("answer_check") is False or not s.answer_check:
        return None
    for configured in (_number(agent_settings.get("answer_check_threshold")), s.answer_check_threshold):
        if configured is not None:
            return configured
    if language not in MEASURED_LANGUAGES.get(kind, {language}):
        return None
    return _QUESTIONS[kind][1].get(model_name)


def applies(group: str, prompt: Prompt | None) -> str | None:
    """"knowledge" (excerpts only), "knowledge+memory" (excerpts and memories), "instructions"
    (neither: the company's instructions and the conversation are all there is), "memory"
    (memories without excerpts), or None (not the local model; small talk)."""
    if group != llm.LOCAL_MODEL or prompt is None or prompt.small_talk:
        return None
    kinds = {source.kind for source, _ in prompt.sources}
    if not kinds:
        return "instructions"
    if "chunk" not in kinds:
        return "memory"
    return "knowledge" if kinds == {"chunk"} else "knowledge+memory"


def _ask(messages: list[dict], agent_settings: dict | None, kind: str, language: str) -> Check | None:
    from api.llm.llama_engine import get_engine
    engine = get_engine()
    threshold = threshold_for(engine.name, agent_settings, kind=kind, language=language)
    if threshold is None:
        return None
    started = time.perf_counter()
    margin = engine.yes_no(messages, _QUESTIONS[kind][0], timeout_s=get_settings().llm_timeout_s)
    return Check(answerable=margin >= threshold, margin=margin, threshold=threshold,
                 ms=int((time.perf_counter() - started) * 1000), kind=kind)


async def check(group: str, prompt: Prompt | None, agent_settings: dict | None = None, *,
                question: str = "") -> Check | None:
    """The local model's judgement on the customer's message `question`, or None when it does not
    apply or cannot be had (the model then answers as usual: a failed check never costs the
    customer an answer)."""
    kind = applies(group, prompt)
    if kind is None:
        return None
    try:
        return await anyio.to_thread.run_sync(_ask, prompt.messages, agent_settings, kind, _language(question))
    except Exception as exc:  # noqa: BLE001 - a model that cannot judge still answers
        log.warning("answer check skipped: %s", exc)
        return None


def _language(question: str) -> str:
    """The customer's language: English when the message reads as English, else Portuguese."""
    return "en" if text.language(question, chat=True) == "en" else "pt"


def not_found_text(question: str) -> str:
    return NOT_FOUND[_language(question)]


def handed_off_text(question: str) -> str:
    return HANDED_OFF[_language(question)]
