"""Fit prompt sections (system, memories, knowledge snippets, recent turns) into a token budget.

Policy: while over budget, drop one item from the lowest-priority section that still has
droppable items; chronological sections (turns) lose their oldest item, ranked sections
(memories, snippets: best first) lose their last. `min_keep` items are never dropped
(the system prompt, the customer's current message). The policy is deliberately simple
so that what the model saw can be explained from the section priorities alone.

Counting: `approx_tokens` is ceil(chars / 4), the usual ratio for English on GPT-style
vocabularies. Portuguese is denser (about 3-3.5 chars/token there, about 2.5 with small
local vocabularies such as SmolLM2's), so this undercounts Portuguese. For the local model
pass `api.llm.local_provider.count_tokens` (exact llama.cpp tokenizer, microseconds per
call once the model is loaded); for hosted models keep a margin between the budget and the
model's context window. Each item also costs ITEM_OVERHEAD tokens for its bullet/role markers.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from api.prompts.errors import PromptError

ITEM_OVERHEAD = 4
TokenCounter = Callable[[str], int]


def approx_tokens(text: str) -> int:
    return -(-len(text) // 4)  # ceil without floats


@dataclass(frozen=True)
class Section:
    name: str
    items: Sequence[str]
    priority: int  # lower priority is dropped first
    min_keep: int = 0
    drop_oldest_first: bool = False  # True for chronological sections (turns)


@dataclass
class FittedContext:
    sections: dict[str, list[str]]
    tokens: int
    dropped: dict[str, int] = field(default_factory=dict)


def fit_budget(sections: Sequence[Section], budget: int, count: TokenCounter = approx_tokens) -> FittedContext:
    """Keep as many items as fit in `budget` tokens; raises PromptError if the kept minimum does not."""
    kept = {s.name: list(s.items) for s in sections}
    costs = {s.name: [count(item) + ITEM_OVERHEAD for item in s.items] for s in sections}
    total = sum(sum(c) for c in costs.values())
    dropped = {s.name: 0 for s in sections}
    order = sorted(sections, key=lambda s: s.priority)  # stable: ties drop the earlier-listed first
    while total > budget:
        victim = next((s for s in order if len(kept[s.name]) > s.min_keep), None)
        if victim is None:
            raise PromptError(f"The required prompt sections need {total} tokens; the budget is {budget}.",
                              "context_over_budget")
        at = 0 if victim.drop_oldest_first else -1
        kept[victim.name].pop(at)
        total -= costs[victim.name].pop(at)
        dropped[victim.name] += 1
    return FittedContext(sections=kept, tokens=total, dropped={k: v for k, v in dropped.items() if v})
