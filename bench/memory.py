"""Memory retrieval on LoCoMo: does `api.memory.service.retrieve` find the evidence turns?

    python -m bench.memory [--locomo FILE] [--summaries none|locomo|local] [--limit-conversations N] [--sweep] [--legacy] [--out FILE]
    python -m bench.memory --locomo bench/sets/cs_memory.json --chat-overhead 0   # changed facts (pt, en)

Ingests LoCoMo (bench/memory_ingest.py), then asks every question (category 5, adversarial,
is reported separately: its evidence is about what was NOT said) as the contact's message
and checks which evidence dia_ids are among the retrieved turns:
- recall@k: fraction of the question's evidence turns in the top k units (a unit is an excerpt
  of `excerpt_turns` consecutive turns, or one turn), averaged over questions;
- all@k: share of questions whose evidence is entirely in the top k;
- recall@1, MRR (over the first RANK_DEPTH units) and, for changed facts, whether the current
  value's excerpt ranks above the stale one; 95% bootstrap intervals over questions, and paired
  differences against the default for the other configurations;
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
from bench.metrics import first_rank, latency_summary, mean, paired_diff, with_ci

DEFAULT_PATH = DATASETS_DIR / "locomo" / "locomo10.json"
KS = (5, 10)
RECALL_KS = (1, 5, 10, 15, 20)  # 15, 20: to compare units of different sizes at equal prompt words
# Units retrieved per question for the ranks (MRR, rank of current vs stale); recall@k reads
# the first k of them (the statement orders units the same whatever k is).
RANK_DEPTH = 30
WORD_KS = (10, 15, 20)


def _recall(units: list[list[str]], evidence: tuple[str, ...], k: int) -> tuple[float, bool]:
    top = {dia for unit in units[:k] for dia in unit}
    hit = sum(e in top for e in evidence)
    return hit / len(evidence), hit == len(evidence)


def question_record(qa, units: list[list[str]]) -> dict:
    """One question's outcome: recall@k, complete@k, the rank of the first unit with evidence (the
    current value for a changed fact) and of the first with stale evidence (None: not in the list)."""
    record = {"category": qa.category, "kind": qa.kind, "rank": first_rank(units, qa.evidence),
              "stale_rank": first_rank(units, qa.stale_evidence) if qa.stale_evidence else None}
    for k in RECALL_KS:
        record[f"recall@{k}"], record[f"all@{k}"] = _recall(units, qa.evidence, k)
    return record


def _groups(record: dict) -> list[str]:
    if record["category"] == 5:
        return ["adversarial"]
    return ["all", CATEGORY_NAMES[record["category"]]] + ([f"kind:{record['kind']}"] if record["kind"] else [])


def summarize_records(records: list[dict]) -> dict:
    """Per group (all questions, LoCoMo category, set kind): recall@1/5/10, all@k, MRR (over the
    RANK_DEPTH retrieved units), each with a 95% bootstrap interval; for changed facts, the share
    of questions whose current value ranks above its stale value (or is found while the stale is not)."""
    by_group: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        for g in _groups(r):
            by_group[g].append(r)
    out = {}
    for group, rows in by_group.items():
        stats = {"questions": len(rows), "mrr": with_ci([1 / r["rank"] if r["rank"] else 0.0 for r in rows])}
        for k in RECALL_KS:
            stats[f"recall@{k}"] = with_ci([r[f"recall@{k}"] for r in rows])
            stats[f"all@{k}"] = round(mean([float(r[f"all@{k}"]) for r in rows]), 3)
        changed = [r for r in rows if r["kind"] == "current"]
        if changed:
            stats["current_above_stale"] = with_ci(
                [float(r["rank"] is not None and (r["stale_rank"] is None or r["rank"] < r["stale_rank"]))
                 for r in changed])
            stats["rank_current_median"] = _median([r["rank"] or RANK_DEPTH + 1 for r in changed])
            stats["rank_stale_median"] = _median([r["stale_rank"] or RANK_DEPTH + 1 for r in changed])
        out[group] = stats
    return dict(sorted(out.items()))


def _median(values: list[int]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return float(ordered[mid]) if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def compare(base: list[dict], other: list[dict]) -> dict:
    """Paired differences (other - base) over the same questions, with 95% bootstrap intervals."""
    pairs = [(a, b) for a, b in zip(base, other, strict=True) if a["category"] != 5]
    return {"recall@10": paired_diff([a["recall@10"] for a, _ in pairs], [b["recall@10"] for _, b in pairs]),
            "mrr": paired_diff([1 / a["rank"] if a["rank"] else 0.0 for a, _ in pairs],
                               [1 / b["rank"] if b["rank"] else 0.0 for _, b in pairs])}


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


async def evaluate(app_url: str, loaded, conversations, vectors: dict, config, now=None,
                   kinds: tuple[str, ...] = ("turn",)) -> dict:
    from api.core.db import async_pool, unit_of_work
    from api.core.principal import org_principal
    from api.memory import service as memory

    principal = org_principal(loaded.org_id, "admin", kind="api_key")
    pool = async_pool(app_url, min_size=1, max_size=2)
    await pool.open(wait=True)
    records: list[dict] = []
    sql_ms, context_turns, context_words = [], [], []
    try:
        for conv in conversations:
            for qa in (qa for qa in conv.qa if qa.evidence):
                started = time.perf_counter()
                async with unit_of_work(pool, principal) as session:
                    hits = await memory.retrieve(session, loaded.contacts[conv.id], qa.question, k=RANK_DEPTH,
                                                 query_vector=vectors[qa.question], kinds=kinds, config=config,
                                                 now=now)
                sql_ms.append((time.perf_counter() - started) * 1000)
                # A hit is a unit (an excerpt of turns, or one turn when excerpt_turns=1): the
                # evidence counts as found when any turn of a top-k unit is an evidence turn.
                # An observation (--observations) counts as the evidence turns it cites.
                units = [[loaded.dia_by_message.get(t.message_id, "") for t in h.excerpt]
                         or list(h.metadata.get("evidence") or ())
                         or [loaded.dia_by_message.get(h.metadata.get("message_id"), "")] for h in hits]
                if qa.category != 5:
                    context_turns.append(sum(len(u) for u in units[:max(KS)]))
                    context_words.append([sum(len(t.content.split()) for h in hits[:k] for t in (h.excerpt or [h]))
                                          for k in WORD_KS])
                records.append(question_record(qa, units))
    finally:
        await pool.close()
    return {"config": vars(config), "kinds": list(kinds), "questions": sum(r["category"] != 5 for r in records),
            "adversarial_questions": sum(r["category"] == 5 for r in records),
            "metrics": summarize_records(records), "records": records,
            "latency_retrieve_ms": latency_summary(sql_ms),
            "turns_in_top10": round(sum(context_turns) / max(1, len(context_turns)), 1),
            **{f"words_in_top{k}": round(sum(w[i] for w in context_words) / max(1, len(context_words)), 1)
               for i, k in enumerate(WORD_KS)}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locomo", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--summaries", choices=("none", "locomo", "local"), default="none",
                        help="session summaries: LoCoMo's own, or the local model's (slow on CPU)")
    parser.add_argument("--limit-conversations", type=int, default=None)
    parser.add_argument("--skip-conversations", type=int, default=0,
                        help="leave out the first N conversations (e.g. those a setting was tuned on)")
    parser.add_argument("--facts", action="store_true",
                        help="store each session's listed facts through the fact pipeline (bench/sets sets)")
    parser.add_argument("--observations", action="store_true",
                        help="store LoCoMo's observations as fact memories and compare turns + facts with turns "
                             "only (an upper bound for facts as retrieval units)")
    parser.add_argument("--sweep", action="store_true", help="also try other fusion weights/candidate counts")
    parser.add_argument("--chat-overhead", type=int, default=300, metavar="N",
                        help="time api/chat context assembly + prompt for N questions (0: skip)")
    parser.add_argument("--sweep-time", action="store_true", help="sweep only recency and outdated-turn weights")
    parser.add_argument("--sweep-fusion", action="store_true",
                        help="z-score fusion (the knowledge search's) at several text weights against the default")
    parser.add_argument("--sweep-knobs", action="store_true",
                        help="neighbour share, excerpt spread, candidates per list and date boost around the default")
    parser.add_argument("--fusion-text-weights", default="0.5,0.75,1,1.5,2,3,4",
                        help="--sweep-fusion: the text list's weights to try")
    parser.add_argument("--sweep-sessions", action="store_true",
                        help="sweep the summary-guided session boost (needs --summaries)")
    parser.add_argument("--legacy", action="store_true",
                        help="also run the statement as it was before time-aware ranking (issue 14)")
    parser.add_argument("--database", default="renum_bench_memory", help="recreated at each run")
    parser.add_argument("--out", type=Path, default=DATA_DIR / "results.json")
    args = parser.parse_args(argv)
    conversations = load_locomo(args.locomo)[args.skip_conversations:][:args.limit_conversations]
    admin_url, app_url, redis_url = start_stack(args.database)
    started = time.perf_counter()
    loaded = ingest(admin_url, app_url, redis_url, conversations, summaries=args.summaries, facts=args.facts,
                    observations=args.observations)
    ingest_s = time.perf_counter() - started
    vectors, miss_ms = embed_questions(conversations, redis_url)
    from api.memory.service import DEFAULT_CONFIG, LEGACY_CONFIG, RetrievalConfig
    # Ablations of the default, one knob at a time, then excerpt sizes and text weights.
    sweep = [RetrievalConfig(date_boost=0.0), RetrievalConfig(smooth=0.0),
             RetrievalConfig(date_boost=0.0, smooth=0.0), RetrievalConfig(spread=0.0),
             RetrievalConfig(candidates=40)]
    sweep += [RetrievalConfig(excerpt_turns=w, w_text=t) for w in (1, 4, 5, 6) for t in (0.0, 1.0)]
    sweep += [RetrievalConfig(recency=r) for r in (0.0, 0.25, 0.5, 2.0)]
    sweep += [RetrievalConfig(outdated=o) for o in (0.0, 1.0, 4.0)] + [RetrievalConfig(recency=0.0, outdated=4.0)]
    if args.sweep_time:
        sweep = sweep[-8:]  # only the time-aware knobs
    if args.sweep_fusion:
        sweep = [RetrievalConfig(fusion="rrf", w_text=1.0)] + [RetrievalConfig(fusion="zscore", w_text=float(t))
                                                             for t in args.fusion_text_weights.split(",")]
    if args.sweep_knobs:  # the steps after fusion, re-tuned around the default (they were set under RRF)
        sweep = [RetrievalConfig(smooth=v) for v in (0.2, 0.5, 0.7)] + [RetrievalConfig(spread=v) for v in (0.15, 0.5)]
        sweep += [RetrievalConfig(candidates=v) for v in (50, 200)] + [RetrievalConfig(date_boost=v) for v in (1.0, 4.0)]
    if args.sweep_sessions:
        sweep = [RetrievalConfig(session_boost=b, session_top=t) for b in (0.5, 1.0, 2.0, 4.0) for t in (1, 3, 5)]
    configs = [DEFAULT_CONFIG] + ([c for c in sweep if c != DEFAULT_CONFIG]
                                  if args.sweep or args.sweep_time or args.sweep_sessions or args.sweep_fusion
                                  or args.sweep_knobs else [])
    configs += [c for c in (LEGACY_CONFIG,) if args.legacy and c not in configs]
    runs = [asyncio.run(evaluate(app_url, loaded, conversations, vectors, config)) for config in configs]
    if args.observations:  # the same configurations with the observations as units next to turns
        runs += [asyncio.run(evaluate(app_url, loaded, conversations, vectors, config, kinds=("turn", "fact")))
                 for config in configs]
    for run in runs[1:]:
        run["vs_default"] = compare(runs[0]["records"], run["records"])
    if args.chat_overhead:
        from bench.memory_chat import chat_overhead
        overhead = asyncio.run(chat_overhead(app_url, redis_url, loaded, conversations, args.chat_overhead))
    result = {"default": runs[0], "chat_overhead": overhead if args.chat_overhead else None, "sweep": runs[1:], "query_embedding_ms": latency_summary(miss_ms),
              "conversations": len(conversations), "turns": loaded.turns, "ingest_s": round(ingest_s, 1),
              "embed_s": round(loaded.embed_s, 1)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    for run in runs:
        del run["records"]  # per-question rows stay in --out only
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
