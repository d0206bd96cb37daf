"""Turn gathered context into chat messages within the token budget (pure functions).

Messages: the system prompt (the agent's own template rendered in the sandbox, or
prompts/system.j2), the recent turns as chat messages, and the customer's message wrapped
in prompts/rag_answer.j2 with memories, summaries and numbered knowledge excerpts.
When everything does not fit, fit_budget drops whole items, least important first:
older summaries, then memories, then the oldest turns, then the lowest-ranked excerpts.
The system prompt and the question are never dropped.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from api.chat.context import Gathered, Source, agent_zone
from api.prompts import service as prompts

_PRIORITY = {"summaries": 10, "memories": 20, "turns": 30, "snippets": 40, "required": 100}
# Room for chat-template markers the per-item overhead does not cover.
_MARGIN_TOKENS = 32


@dataclass
class Prompt:
    messages: list[dict]
    sources: list[tuple[Source, int]] = field(default_factory=list)  # (source, rank) that made it in
    tokens: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    small_talk: bool = False  # a greeting, thanks... (api/chat/small_talk.py): nothing was searched


def _now_text(tz) -> str:
    now = datetime.now(timezone.utc).astimezone(tz)
    return now.strftime("%Y-%m-%d %H:%M ") + (getattr(tz, "key", None) or now.strftime("%Z"))


def system_text(target: dict, instructions: str | None, now: str | None = None) -> str:
    inputs = {"agent_name": target["agent_name"], "business_name": target["business_name"],
              "customer_name": target["contact_name"], "instructions": instructions or None,
              "now": now or _now_text(agent_zone(target))}
    if target["system_prompt"].strip():
        # Org-edited text is untrusted: the sandbox limits it to the inputs system.j2 declares.
        return prompts.render_org("system", target["system_prompt"], **inputs)
    return prompts.render("system", **inputs)


def _snippet(source: Source) -> dict:
    """A knowledge excerpt for the prompt: its document's title, unless the excerpt already starts
    with it (a document whose first line is its title): "[1] Troca: Troca\n\n…" made small models
    answer with the title twice instead of the answer."""
    title = (source.title or "").strip()
    if title and " ".join(source.text.split()).casefold().startswith(" ".join(title.split()).casefold()):
        title = ""
    return {"title": title, "text": source.text}


def build(target: dict, question: str, gathered: Gathered, *, budget: int, count: Callable[[str], int],
          instructions: str | None = None) -> Prompt:
    # The clock goes in the last message, which changes every turn anyway: the packaged system
    # prompt stays identical across a conversation, so llama.cpp's prefix cache covers it and the
    # earlier turns (an org template may still show `now` in its system prompt).
    now = _now_text(agent_zone(target))
    system = system_text(target, instructions, now)
    # A greeting or thanks needs no clock, and a small model copied it into its reply ("Esperarei
    # até 2026-12-04 13:08 UTC"): BENCHMARKS.md, "Messages that ask nothing".
    asked_at = None if gathered.small_talk else now
    memories = gathered.facts + gathered.memories
    fitted = prompts.fit_budget([
        prompts.Section("required", [system, prompts.render("rag_answer", question=question, now=asked_at)],
                        _PRIORITY["required"], min_keep=2),
        prompts.Section("summaries", [s.text for s in gathered.summaries], _PRIORITY["summaries"]),
        prompts.Section("memories", [m.text for m in memories], _PRIORITY["memories"]),
        prompts.Section("turns", [f"{t['role']}: {t['content']}" for t in gathered.turns], _PRIORITY["turns"],
                        drop_oldest_first=True),
        prompts.Section("snippets", [s.text for s in gathered.snippets], _PRIORITY["snippets"]),
    ], max(budget - _MARGIN_TOKENS, 1), count)
    kept = {name: len(items) for name, items in fitted.sections.items()}
    # Ranked sections lose items from the end and turns from the start, so what was kept is a
    # prefix (a suffix for turns) of each list.
    snippets = gathered.snippets[:kept["snippets"]]
    memories = memories[:kept["memories"]]
    summaries = gathered.summaries[:kept["summaries"]]
    turns = gathered.turns[len(gathered.turns) - kept["turns"]:]
    user = prompts.render("rag_answer", question=question, now=asked_at,
                          snippets=[_snippet(s) for s in snippets] or None,
                          memories=[m.text for m in memories] or None,
                          summaries=[s.text for s in summaries] or None, small_talk=gathered.small_talk)
    messages = [{"role": "system", "content": system}, *turns, {"role": "user", "content": user}]
    # Chunks are ranked by their [n] in the prompt; memories by their order in it.
    sources = [(s, i) for i, s in enumerate(snippets, 1)] + [(m, i) for i, m in enumerate(memories + summaries, 1)]
    return Prompt(messages=messages, sources=sources, tokens=fitted.tokens, dropped=fitted.dropped,
                  small_talk=gathered.small_talk)
