"""Memory retrieval on LoCoMo: does `api.memory.service.retrieve` find the evidence turns?

    python -m bench.memory [--locomo FILE] [--summaries] [--limit-conversations N] [--out FILE]

Ingests LoCoMo (bench/memory_ingest.py), then asks every question (category 5, adversarial,
is reported separately: its evidence is about what was NOT said) as the contact's message
and checks which evidence dia_ids are among the retrieved turns:
- recall@k: fraction of the question's evidence turns in the top k units (a unit is an excerpt
  of `excerpt_turns` consecutive turns, or one turn), averaged over questions;
- all@k: share of questions whose evidence is entirely in the top k;
- latency of retrieve() with the query vector given (the chat path embeds the message once
  and shares the vector with the knowledge search), and of the uncached query embedding.
First run embeds ~5.9k turns (~12 min on 2 cores); the Redis embedding cache makes re-runs fast.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import defaultdict
from pathlib import Path

from bench import DATASETS_DIR
from bench.locomo_data import CATEGORY_NAMES, load_locomo
from bench.memory_ingest import DATA_DIR, ingest, start_stack
from bench.metrics import latency_summary

DEFAULT_PATH = DATASETS_DIR / "locomo" / "locomo10.json"
KS = (5, 10)


def _recall(units: list[list[str]], evidence: tuple[str, ...], k: int) -> tuple[float, bool]:
    top = {dia for unit in units[:k] for dia in unit}
    hit = sum(e in top for e in evidence)
    return hit / len(evidence), hit == len(evidence)


def embed_questions(conversations, redis_url: str) -> tuple[dict[str, object], list[float]]:
    """Query vectors for every question, through the Redis cache; also the uncached embedding
    times (ms) of the questions that missed it, for the end-to-end latency."""
    import redis

    from api.embeddings.cache import CachedEmbedder
    from api.embeddings.service import get_embedder
    embedder = CachedEmbedder(get_embedder(), redis.Redis.from_url(redis_url))
    vectors, miss_ms = {}, []
    for qa in (qa for conv in conversations for qa in conv.qa if qa.evidence):
        started = time.perf_counter()
        batch = embedder.embed([qa.question], "query")
        if batch.computed:
            miss_ms.append((time.perf_counter() - started) * 1000)
        vectors[qa.question] = batch.vectors[0]
    return vectors, miss_ms


async def evaluate(app_url: str, loaded, conversations, vectors: dict, config) -> dict:
    from api.core.db import async_pool, unit_of_work
    from api.core.principal import org_principal
    from api.memory import service as memory

    principal = org_principal(loaded.org_id, "admin", kind="api_key")
    pool = async_pool(app_url, min_size=1, max_size=2)
    await pool.open(wait=True)
    scores: dict[str, list] = defaultdict(list)
    sql_ms, context_turns, context_words = [], [], []
    try:
        for conv in conversations:
            for qa in (qa for qa in conv.qa if qa.evidence):
                started = time.perf_counter()
                async with unit_of_work(pool, principal) as session:
                    hits = await memory.retrieve(session, loaded.contacts[conv.id], qa.question, k=max(KS),
                                                 query_vector=vectors[qa.question], kinds=("turn",), config=config)
                sql_ms.append((time.perf_counter() - started) * 1000)
                # A hit is a unit (an excerpt of turns, or one turn when excerpt_turns=1): the
                # evidence counts as found when any turn of a top-k unit is an evidence turn.
                units = [[loaded.dia_by_message.get(t.message_id, "") for t in h.excerpt]
                         or [loaded.dia_by_message.get(h.metadata.get("message_id"), "")] for h in hits]
                group = "adversarial" if qa.category == 5 else "all"
                if qa.category != 5:
                    context_turns.append(sum(len(u) for u in units[:max(KS)]))
                    context_words.append(sum(len(t.content.split()) for h in hits[:max(KS)]
                                             for t in (h.excerpt or [h])))
                for k in KS:
                    recall, complete = _recall(units, qa.evidence, k)
                    scores[f"{group}:recall@{k}"].append(recall)
                    scores[f"{group}:all@{k}"].append(complete)
                    if qa.category != 5:
                        scores[f"{CATEGORY_NAMES[qa.category]}:recall@{k}"].append(recall)
    finally:
        await pool.close()
    return {"config": vars(config), "questions": len(scores["all:recall@10"]),
            "adversarial_questions": len(scores["adversarial:recall@10"]),
            "metrics": {name: round(sum(v) / len(v), 4) for name, v in sorted(scores.items())},
            "latency_retrieve_ms": latency_summary(sql_ms),
            "turns_in_top10": round(sum(context_turns) / max(1, len(context_turns)), 1),
            "words_in_top10": round(sum(context_words) / max(1, len(context_words)), 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locomo", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--summaries", action="store_true", help="also summarize each session (slow locally)")
    parser.add_argument("--limit-conversations", type=int, default=None)
    parser.add_argument("--sweep", action="store_true", help="also try other fusion weights/candidate counts")
    parser.add_argument("--chat-overhead", type=int, default=300, metavar="N",
                        help="time api/chat context assembly + prompt for N questions (0: skip)")
    parser.add_argument("--out", type=Path, default=DATA_DIR / "results.json")
    args = parser.parse_args(argv)
    conversations = load_locomo(args.locomo)[:args.limit_conversations]
    admin_url, app_url, redis_url = start_stack()
    started = time.perf_counter()
    loaded = ingest(admin_url, app_url, redis_url, conversations, summaries=args.summaries)
    ingest_s = time.perf_counter() - started
    vectors, miss_ms = embed_questions(conversations, redis_url)
    from api.memory.service import DEFAULT_CONFIG, RetrievalConfig
    # Ablations of the default, one knob at a time, then excerpt sizes and text weights.
    sweep = [RetrievalConfig(date_boost=0.0), RetrievalConfig(smooth=0.0),
             RetrievalConfig(date_boost=0.0, smooth=0.0), RetrievalConfig(spread=0.0),
             RetrievalConfig(candidates=40)]
    sweep += [RetrievalConfig(excerpt_turns=w, w_text=t) for w in (1, 4, 5, 6) for t in (0.0, 1.0)]
    configs = [DEFAULT_CONFIG] + ([c for c in sweep if c != DEFAULT_CONFIG] if args.sweep else [])
    runs = [asyncio.run(evaluate(app_url, loaded, conversations, vectors, config)) for config in configs]
    if args.chat_overhead:
        from bench.memory_chat import chat_overhead
        overhead = asyncio.run(chat_overhead(app_url, redis_url, loaded, conversations, args.chat_overhead))
    result = {"default": runs[0], "chat_overhead": overhead if args.chat_overhead else None, "sweep": runs[1:], "query_embedding_ms": latency_summary(miss_ms),
              "conversations": len(conversations), "turns": loaded.turns, "ingest_s": round(ingest_s, 1),
              "embed_s": round(loaded.embed_s, 1)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
