"""LoCoMo (long-term conversational memory) loader and the shared dialogue dataclasses.

LoCoMo is CC BY-NC 4.0: read it from the shared datasets folder at benchmark time only,
never copy it (or anything derived from it) into the repository.

Usage: python -m bench.locomo_data [--path .../locomo10.json]  -> summary stats as JSON
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import DATASETS_DIR

DEFAULT_PATH = DATASETS_DIR / "locomo" / "locomo10.json"

# Category ids are unlabeled in the file; this mapping is the one the LoCoMo authors'
# evaluation code and later papers (e.g. Mem0) use.
CATEGORY_NAMES = {
    1: "multi-hop",
    2: "temporal",
    3: "open-domain",
    4: "single-hop",
    5: "adversarial",
}

_DATE_FORMAT = "%I:%M %p on %d %B, %Y"  # "1:56 pm on 8 May, 2023"
# Tolerates the known malformed evidence strings: "D8:6; D9:17", "D:11:26", "D30:05", "D".
_EVIDENCE_RE = re.compile(r"D\s*:?\s*(\d+)\s*:\s*(\d+)")
_SESSION_KEY_RE = re.compile(r"session_(\d+)")


@dataclass(frozen=True, slots=True)
class Turn:
    dia_id: str  # "D<session>:<turn>", 1-based
    speaker: str
    text: str
    image_caption: str | None = None  # LoCoMo shares photos; we only keep their BLIP caption

    @property
    def full_text(self) -> str:
        """Utterance text with the shared image (if any) rendered inline as text."""
        if not self.image_caption:
            return self.text
        return f"{self.text} [shares {self.image_caption}]".strip()


@dataclass(slots=True)
class Session:
    number: int
    date_time: str | None  # raw string as in the source
    turns: list[Turn]
    # Renum's sets only ("session_<n>_facts"): the facts the memory worker would extract from the
    # session, [{"key", "value"}], stored by bench/memory_ingest.py --facts through the real
    # fact pipeline (oracle extraction: measures supersession and ranking, not the extractor).
    facts: list[dict] = field(default_factory=list)
    # LoCoMo's own session summary (written by GPT-3.5 with the data set): `bench.memory
    # --summaries locomo` stores it as the session's summary memory, an upper bound for what
    # the memory worker's local model writes (`--summaries local`).
    summary: str | None = None
    # LoCoMo's own "observations" (GPT-written statements about each speaker, each citing the
    # dia_ids of its evidence turns): `bench.memory --observations` stores them as fact memories,
    # an upper bound for facts/events written by the memory worker as retrieval units (issue 14).
    observations: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)

    @property
    def started_at(self) -> datetime | None:
        if not self.date_time:
            return None
        try:
            return datetime.strptime(self.date_time, _DATE_FORMAT)
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class QAItem:
    question: str
    answer: str | None  # None for most adversarial (category 5) items
    category: int
    evidence: tuple[str, ...]  # normalized dia_ids
    raw_evidence: tuple[str, ...] = ()
    adversarial_answer: str | None = None
    # Renum's own sets (bench/sets/cs_memory.json) add: kind ("current", "previous", "stable",
    # "multi") and, for a changed fact, the turns stating its stale value.
    kind: str | None = None
    stale_evidence: tuple[str, ...] = ()

    @property
    def category_name(self) -> str:
        return CATEGORY_NAMES.get(self.category, f"category-{self.category}")


@dataclass(slots=True)
class Conversation:
    id: str
    speakers: tuple[str, ...]
    sessions: list[Session]
    qa: list[QAItem] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    def turns(self) -> Iterator[Turn]:
        for session in self.sessions:
            yield from session.turns

    def dia_ids(self) -> set[str]:
        return {turn.dia_id for turn in self.turns()}


def normalize_evidence(raw: str) -> list[str]:
    """Split one evidence string into canonical dia_ids ("D30:05" -> "D30:5"); [] if unparseable."""
    return [f"D{int(s)}:{int(t)}" for s, t in _EVIDENCE_RE.findall(raw)]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _observations(by_speaker: dict | None) -> list[tuple[str, tuple[str, ...]]]:
    out = []
    for items in (by_speaker or {}).values():
        for text, evidence in items:
            out.append((text, (evidence,) if isinstance(evidence, str) else tuple(evidence)))
    return out


def _parse_qa(item: dict[str, Any]) -> QAItem:
    raw = tuple(str(e) for e in item.get("evidence") or [])
    ids = tuple(dict.fromkeys(i for r in raw for i in normalize_evidence(r)))
    return QAItem(
        question=item["question"],
        answer=_text(item.get("answer")),  # some answers are ints (years)
        category=int(item["category"]),
        evidence=ids,
        raw_evidence=raw,
        adversarial_answer=_text(item.get("adversarial_answer")),
        kind=item.get("kind"),
        stale_evidence=tuple(i for r in item.get("stale_evidence") or [] for i in normalize_evidence(str(r))),
    )


def _parse_conversation(sample: dict[str, Any]) -> Conversation:
    conv = sample["conversation"]
    # Only keys holding turns define sessions: conv-26 has dangling *_date_time keys for 20-35.
    numbers = sorted(int(m.group(1)) for k in conv if (m := _SESSION_KEY_RE.fullmatch(k)))
    sessions = [
        Session(
            number=n,
            date_time=conv.get(f"session_{n}_date_time"),
            turns=[
                Turn(t["dia_id"], t["speaker"], t.get("text", ""), t.get("blip_caption"))
                for t in conv[f"session_{n}"]
            ],
            facts=list(conv.get(f"session_{n}_facts") or []),
            summary=(sample.get("session_summary") or {}).get(f"session_{n}_summary"),
            observations=_observations((sample.get("observation") or {}).get(f"session_{n}_observation")),
        )
        for n in numbers
    ]
    return Conversation(
        id=sample["sample_id"],
        speakers=(conv["speaker_a"], conv["speaker_b"]),
        sessions=sessions,
        qa=[_parse_qa(q) for q in sample.get("qa", [])],
    )


def load_locomo(path: str | Path = DEFAULT_PATH) -> list[Conversation]:
    with open(path, encoding="utf-8") as f:
        return [_parse_conversation(s) for s in json.load(f)]


def summarize(conversations: list[Conversation]) -> dict[str, Any]:
    qa = [(c, q) for c in conversations for q in c.qa]
    ids_by_conv = {c.id: c.dia_ids() for c in conversations}
    with_ev = [(c, q) for c, q in qa if q.evidence]
    refs = [e in ids_by_conv[c.id] for c, q in with_ev for e in q.evidence]
    malformed = [r for _, q in qa for r in q.raw_evidence if normalize_evidence(r) != [r]]
    return {
        "conversations": len(conversations),
        "sessions": sum(len(c.sessions) for c in conversations),
        "turns": sum(1 for c in conversations for _ in c.turns()),
        "turns_with_image": sum(1 for c in conversations for t in c.turns() if t.image_caption),
        "qa": len(qa),
        "qa_per_category": {
            f"{k}:{CATEGORY_NAMES.get(k, '?')}": v
            for k, v in sorted(Counter(q.category for _, q in qa).items())
        },
        "qa_with_evidence": len(with_ev),
        "qa_evidence_all_resolved": sum(
            all(e in ids_by_conv[c.id] for e in q.evidence) for c, q in with_ev
        ),
        "evidence_ids": len(refs),
        "evidence_ids_resolved": sum(refs),
        "evidence_resolve_fraction": round(sum(refs) / len(refs), 4) if refs else None,
        "raw_evidence_malformed": malformed,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=DEFAULT_PATH)
    args = parser.parse_args(argv)
    json.dump(summarize(load_locomo(args.path)), sys.stdout, indent=2, ensure_ascii=False)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
