"""Customer-support dialogue loaders (ABCD, Schema-Guided Dialogue) into the LoCoMo dataclasses.

They carry no QA; they feed memory-ingestion throughput benchmarks. Each dialogue becomes a
one-session Conversation whose turns get LoCoMo-style ids "D1:<n>".

Licenses: ABCD is MIT; SGD is CC BY-SA 4.0 (ShareAlike: anything derived from it must carry
the same license, so keep derived data out of the repository).

Usage: python -m bench.dialogs_data [--abcd PATH] [--sgd PATH]  -> summary stats as JSON
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from bench import DATASETS_DIR
from bench.locomo_data import Conversation, Session, Turn

DEFAULT_ABCD = DATASETS_DIR / "abcd" / "abcd_sample.json"
DEFAULT_SGD = DATASETS_DIR / "sgd" / "test"


def _read_json(path: Path) -> Any:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def _one_session(turns: list[tuple[str, str]]) -> list[Session]:
    return [
        Session(1, None, [Turn(f"D1:{i}", spk, text) for i, (spk, text) in enumerate(turns, 1)])
    ]


def load_abcd(
    path: str | Path = DEFAULT_ABCD, *, include_actions: bool = True, splits: tuple[str, ...] = ()
) -> list[Conversation]:
    """Load ABCD's sample (a list) or the full abcd_v1.1.json(.gz) ({"train": [...], ...}).

    "action" turns are the agent's logged tool actions ("Account has been pulled up for ...");
    they state facts about the customer, so they are kept by default.
    """
    data = _read_json(Path(path))
    if isinstance(data, dict):
        data = [d for split, rows in data.items() if not splits or split in splits for d in rows]
    conversations = []
    for dialog in data:
        turns = [(s, t) for s, t in dialog["original"] if include_actions or s != "action"]
        scenario = dialog.get("scenario", {})
        conversations.append(
            Conversation(
                id=f"abcd-{dialog['convo_id']}",
                speakers=("customer", "agent"),
                sessions=_one_session(turns),
                metadata={
                    "source": "abcd",
                    "flow": scenario.get("flow"),
                    "subflow": scenario.get("subflow"),
                    "customer_name": scenario.get("personal", {}).get("customer_name"),
                },
            )
        )
    return conversations


def load_sgd(path: str | Path = DEFAULT_SGD) -> list[Conversation]:
    """Load SGD dialogues from a dialogues_*.json file or a directory of them."""
    path = Path(path)
    files = sorted(path.glob("dialogues_*.json")) if path.is_dir() else [path]
    conversations = []
    for file in files:
        for dialog in _read_json(file):
            turns = [(t["speaker"].lower(), t["utterance"]) for t in dialog["turns"]]
            conversations.append(
                Conversation(
                    id=f"sgd-{dialog['dialogue_id']}",
                    speakers=("user", "system"),
                    sessions=_one_session(turns),
                    metadata={"source": "sgd", "services": list(dialog.get("services", []))},
                )
            )
    return conversations


def summarize(conversations: list[Conversation]) -> dict[str, Any]:
    turns = [t for c in conversations for t in c.turns()]
    return {
        "conversations": len(conversations),
        "turns": len(turns),
        "turns_per_speaker": dict(Counter(t.speaker for t in turns)),
        "chars": sum(len(t.text) for t in turns),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--abcd", type=Path, default=DEFAULT_ABCD)
    parser.add_argument("--sgd", type=Path, default=DEFAULT_SGD)
    args = parser.parse_args(argv)
    out: dict[str, Any] = {}
    for name, path, loader in (("abcd", args.abcd, load_abcd), ("sgd", args.sgd, load_sgd)):
        out[name] = summarize(loader(path)) if path.exists() else {"skipped": f"missing {path}"}
    json.dump(out, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
