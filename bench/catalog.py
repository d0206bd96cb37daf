"""Catalog search under price/stock churn: 50k records, ~1k attribute updates per minute.

    RENUM_BENCH_PG_PORT=15454 RENUM_BENCH_REDIS_PORT=16454 .venv/bin/python -m bench.catalog \
        [--records 50000] [--queries 200] [--updates-per-min 1000] [--seconds 60]

Loads the records into database renum_catalog of the bench Postgres (COPY as superuser, then
the HNSW index), then times the filtered hybrid search (api/catalog/repository.py, the API's
statement) as the app role under RLS, one transaction per query: first quiet, then while a
writer thread upserts price/stock changes through the same upsert the API uses. After every
committed batch the writer searches for a record it has just marked out of stock, with that
record's own vector and `in_stock: true`: any hit is stale stock.

Vectors are synthetic (category centroid + noise, unit length, 384 dims): this measures the
cost of filtering and of concurrent updates, not retrieval quality (bench.retrieval does that
with real embeddings); embedding 50k texts on this machine's CPUs would take most of the run.
Prints one JSON object.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import random
import threading
import time

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg.rows import dict_row

from bench import repository as bench_repository
from bench import stack as bench_stack
from bench import synth
from bench.metrics import latency_summary

CATEGORIES = ["tenis", "bota", "sandalia", "camiseta", "jaqueta", "mochila", "relogio", "oculos", "meia", "bone"]
ADJECTIVES = ["leve", "confortável", "impermeável", "esportivo", "casual", "premium", "básico", "resistente",
              "infantil", "feminino", "masculino", "térmico"]
BRANDS = ["Aurora", "Brisa", "Cerrado", "Duna", "Ébano", "Flora", "Granito", "Horizonte"]
USES = ["corrida", "trilha", "trabalho", "praia", "academia", "viagem", "escola", "chuva", "inverno", "dia a dia"]
DIM = 384


def make_records(count: int, rng: np.random.Generator) -> tuple[list[dict], np.ndarray, np.ndarray]:
    centroids = rng.normal(size=(len(CATEGORIES), DIM))
    records, vectors = [], np.empty((count, DIM), dtype=np.float32)
    for i in range(count):
        c = i % len(CATEGORIES)
        adjective, brand, use = ADJECTIVES[i % 12], BRANDS[i % 8], USES[(i // 10) % 10]
        name = f"{CATEGORIES[c].capitalize()} {adjective} {brand} {i}"
        description = f"{CATEGORIES[c]} {adjective} para {use}, da marca {brand}. Modelo {i}."
        records.append({"external_id": f"sku-{i}", "name": name, "description": description,
                        "attributes": {"price": round(float(rng.uniform(10, 1000)), 2),
                                       "in_stock": bool(rng.random() < 0.7), "category": CATEGORIES[c]}})
        v = centroids[c] + rng.normal(scale=0.8, size=DIM)
        vectors[i] = v / np.linalg.norm(v)
    return records, vectors, centroids


def load(admin, kb: dict, records: list[dict], vectors: np.ndarray) -> float:
    """COPY the records (already embedded), then build the HNSW index; returns the load seconds."""
    started = time.perf_counter()
    admin.execute("drop index if exists public.catalog_records_embedding_384_idx")
    buf = io.StringIO()
    for r, v in zip(records, vectors):
        text = r["name"] + "\n" + r["description"]
        digest = hashlib.sha256(text.encode()).hexdigest()
        vec = "[" + ",".join(f"{x:.5f}" for x in v) + "]"
        row = [str(kb["organization_id"]), str(kb["id"]), r["external_id"], r["name"], r["description"],
               json.dumps(r["attributes"]), digest, digest, vec, str(DIM), kb["language"]]
        buf.write("\t".join(x.replace("\\", "\\\\").replace("\t", " ") for x in row) + "\n")
    with admin.cursor().copy("copy public.catalog_records (organization_id, knowledge_base_id, external_id, name, "
                             "description, attributes, content_hash, embedded_hash, embedding, embedding_dim, "
                             "fts_config) from stdin") as copy:
        copy.write(buf.getvalue())
    admin.execute("create index catalog_records_embedding_384_idx on public.catalog_records using hnsw "
                  "((embedding::extensions.vector(384)) extensions.vector_cosine_ops) where embedding_dim = 384")
    admin.execute("analyze public.catalog_records")
    return time.perf_counter() - started


def principal_conn(app_url: str, org_id) -> psycopg.Connection:
    conn = psycopg.connect(app_url, row_factory=dict_row, autocommit=True, prepare_threshold=None)
    register_vector(conn)
    return conn


def as_member(conn, org_id) -> None:
    claims = {"role": "authenticated", "renum_org_id": str(org_id), "renum_org_role": "admin",
              "renum_principal": "api_key"}
    conn.execute("select set_config('request.jwt.claims', %s, true), set_config('role', 'authenticated', true)",
                 [json.dumps(claims)])


def timed_search(conn, kb, org_id, query: str, vector, filters: dict) -> tuple[float, list[dict]]:
    from api.catalog import repository
    statement, params = repository.search_statement(dim=DIM, kb=kb, query=query, vector=vector, filters=filters,
                                                    k=10, candidates=50, rrf_k=10)
    started = time.perf_counter()
    with conn.transaction():
        as_member(conn, org_id)
        rows = repository.search_sync(conn, statement, params)
    return (time.perf_counter() - started) * 1000, rows


def queries(count: int, centroids: np.ndarray, rng: np.random.Generator) -> list[tuple[str, np.ndarray, dict]]:
    out = []
    for i in range(count):
        c = i % len(CATEGORIES)
        v = centroids[c] + rng.normal(scale=1.0, size=DIM)
        filters: dict = {"in_stock": True, "price": {"lte": float(rng.choice([100, 300, 600]))}}
        if i % 3 == 0:
            filters["category"] = {"in_": [CATEGORIES[c], CATEGORIES[(c + 1) % len(CATEGORIES)]]}
        out.append((f"{CATEGORIES[c]} {ADJECTIVES[i % 12]} para {USES[i % 10]}", v / np.linalg.norm(v), filters))
    return out


def writer(app_url, kb, org_id, records, vectors, per_min: int, seconds: float, stop: threading.Event,
           result: dict) -> None:
    from api.catalog import repository
    conn = principal_conn(app_url, org_id)
    rnd = random.Random(7)
    batch = max(1, per_min // 60)
    written = to_embed = checks = stale = 0
    update_ms = []
    deadline = time.monotonic() + seconds
    while not stop.is_set() and time.monotonic() < deadline:
        tick = time.monotonic()
        picked = rnd.sample(range(len(records)), batch)
        for i in picked:
            attrs = records[i]["attributes"]
            attrs["price"] = round(attrs["price"] * rnd.uniform(0.9, 1.1), 2)
            attrs["in_stock"] = rnd.random() < 0.7
        started = time.perf_counter()
        with conn.transaction():
            as_member(conn, org_id)
            counts = repository.upsert_sync(conn, org_id, kb, [records[i] for i in picked], None)
        update_ms.append((time.perf_counter() - started) * 1000)
        written += counts["updated"]
        to_embed += counts["to_embed"]
        # Right after the commit: a record now out of stock must not come back with in_stock = true.
        gone = [i for i in picked if not records[i]["attributes"]["in_stock"]]
        if gone:
            i = gone[0]
            _, rows = timed_search(conn, kb, org_id, records[i]["name"], vectors[i], {"in_stock": True})
            checks += 1
            stale += any(r["external_id"] == records[i]["external_id"] for r in rows)
        time.sleep(max(0.0, 60 / per_min * batch - (time.monotonic() - tick)))
    conn.close()
    result.update(updated=written, re_embedded=to_embed, stale_checks=checks, stale_hits=stale,
                  update_batch=batch, update_ms=latency_summary(update_ms))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--updates-per-min", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    stack = bench_stack.start("renum_catalog")
    rng = np.random.default_rng(42)
    records, vectors, centroids = make_records(args.records, rng)
    with psycopg.connect(stack.admin_url, row_factory=dict_row, autocommit=True) as admin:
        org_id = bench_repository.create_org(admin, "catalog", synth.new_slug("catalog"))
        kb = bench_repository.create_kb(admin, org_id, "catálogo", "portuguese")
        kb = {**kb, "language": str(kb["language"])}
        load_s = load(admin, kb, records, vectors)

    conn = principal_conn(stack.app_url, org_id)
    work = queries(args.queries, centroids, rng)
    for q, v, f in work[:20]:  # warm the plan cache and the buffers
        timed_search(conn, kb, org_id, q, v, f)
    quiet = [timed_search(conn, kb, org_id, q, v, f)[0] for q, v, f in work]

    stop, result = threading.Event(), {}
    thread = threading.Thread(target=writer, args=(stack.app_url, kb, org_id, records, vectors,
                                                   args.updates_per_min, args.seconds, stop, result))
    thread.start()
    busy: list[float] = []
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        for q, v, f in work:
            if time.monotonic() >= deadline:
                break
            busy.append(timed_search(conn, kb, org_id, q, v, f)[0])
    stop.set()
    thread.join()
    conn.close()
    print(json.dumps({"records": args.records, "load_and_index_s": round(load_s, 1),
                      "search_ms_quiet": latency_summary(quiet), "search_ms_under_updates": latency_summary(busy),
                      "searches_under_updates": len(busy), "updates_per_min_target": args.updates_per_min,
                      "writer": result}, indent=2))


if __name__ == "__main__":
    main()
