"""Latency of memory retrieval: the time-aware statement (default configuration) against the
statement as it was before issue 14 (api/memory/repository.py at commit BEFORE, loaded from git),
timed alternately question by question so machine load hits both alike (the shared benchmark
machine's load moves a lot between sequential runs). Each call is a transaction under RLS with the
query vector given, as in bench/memory.py.

    python -m bench.memory_latency [--locomo FILE] [--limit-conversations N] [--database NAME] [--before REV]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

from bench.locomo_data import load_locomo
from bench.memory import DEFAULT_PATH, embed_questions
from bench.memory_ingest import ingest, start_stack
from bench.metrics import latency_summary

BEFORE = "27cfa9d"  # the branch point of issue 14's work
ROOT = Path(__file__).resolve().parents[1]


def _old_repository(before: str = BEFORE):
    import subprocess
    import types
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{before}:api/memory/repository.py"],
                            check=True, capture_output=True, text=True).stdout
    module = types.ModuleType("old_memory_repository")
    exec(compile(source, "old_memory_repository.py", "exec"), module.__dict__)
    return module


async def _timings(app_url, loaded, conversations, vectors, before: str = BEFORE) -> dict[str, list[float]]:
    import inspect

    import numpy as np

    from api.core.db import async_pool, unit_of_work
    from api.core.principal import org_principal
    from api.memory import dates, repository
    from api.memory.service import DEFAULT_CONFIG as c
    old = _old_repository(before)
    accepted = inspect.signature(old.retrieve).parameters
    principal = org_principal(loaded.org_id, "admin", kind="api_key")
    pool = async_pool(app_url, min_size=1, max_size=2)
    await pool.open(wait=True)
    label = "before_issue_14" if before == BEFORE else f"at_{before}"
    out: dict[str, list[float]] = {"default": [], label: []}
    try:
        for conv in conversations:
            for qa in (qa for qa in conv.qa if qa.evidence):
                common = dict(contact_id=loaded.contacts[conv.id], vector=np.asarray(vectors[qa.question], np.float32),
                              text=qa.question, dim=384, k=10, candidates=c.candidates, kinds=["turn"],
                              exclude_conversation_id=None, w_vec=c.w_vec, w_text=c.w_text,
                              excerpt_turns=c.excerpt_turns, spread=c.spread, smooth=c.smooth,
                              periods=dates.mentioned_periods(qa.question), date_boost=c.date_boost,
                              slack_days=c.date_slack_days)
                intent = dates.time_intent(qa.question)
                new = dict(recency=c.recency if intent != "event" else 0.0, older=intent == "previous",
                           outdated=c.outdated if intent != "event" else 0.0, fusion=c.fusion)
                for name, call in (("default", lambda conn: repository.retrieve(conn, **common, **new)),
                                   (label, lambda conn: old.retrieve(
                                       conn, **common, **{k: v for k, v in new.items() if k in accepted}))):
                    started = time.perf_counter()
                    async with unit_of_work(pool, principal) as session:
                        await repository.allow_iterative_scan(session.conn)
                        await call(session.conn)
                    out[name].append((time.perf_counter() - started) * 1000)
    finally:
        await pool.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locomo", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--limit-conversations", type=int, default=None)
    parser.add_argument("--database", default="renum_bench_latency")
    parser.add_argument("--before", default=BEFORE, help="the commit whose statement to time against")
    args = parser.parse_args(argv)
    conversations = load_locomo(args.locomo)[:args.limit_conversations]
    admin_url, app_url, redis_url = start_stack(args.database)
    loaded = ingest(admin_url, app_url, redis_url, conversations, log=lambda _: None)
    vectors, _ = embed_questions(conversations, redis_url)
    times = asyncio.run(_timings(app_url, loaded, conversations, vectors, args.before))
    print(json.dumps({name: latency_summary(ms) | {"n": len(ms)} for name, ms in times.items()}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
