"""Embedding throughput: model passages/s, query latency, and the Redis cache-hit path.

    .venv/bin/python -m bench.embed_speed [--passages 64] [--redis-url redis://127.0.0.1:6379/15]

Prints one JSON object. Passages are ~180-token Portuguese paragraphs (a typical
chunk), made unique per run so the first pass is all cache misses.
"""
import argparse
import json
import os
import platform
import random
import time
import uuid

import redis

from api.core.config import get_settings
from api.documents.chunking import chunk_text
from api.embeddings.cache import CachedEmbedder
from api.embeddings.local import count_tokens
from api.embeddings.service import Embedder

_WORDS = (
    "cliente", "pedido", "entrega", "prazo", "troca", "devolução", "pagamento", "cartão", "boleto", "pix",
    "nota", "fiscal", "produto", "garantia", "atendimento", "horário", "frete", "reembolso", "loja",
    "estoque", "desconto", "cupom", "endereço", "transportadora", "rastreamento", "embalagem", "defeito",
    "suporte", "contrato", "plano",
)


def make_passages(count: int, run_id: str) -> list[str]:
    rng = random.Random(42)
    passages = []
    for index in range(count):
        sentences = [" ".join(rng.choice(_WORDS) for _ in range(12)).capitalize() + "." for _ in range(9)]
        passages.append(f"[{run_id}-{index}] " + " ".join(sentences))
    return passages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--passages", type=int, default=64)
    parser.add_argument("--model", default=None, help="default: RENUM_EMBEDDING_MODEL")
    parser.add_argument("--redis-url", default=get_settings().redis_url or "redis://127.0.0.1:6379/15")
    args = parser.parse_args()

    embedder = Embedder(args.model)
    passages = make_passages(args.passages, uuid.uuid4().hex[:8])
    tokens = sum(count_tokens(p) for p in passages)
    embedder.embed_query("aquecimento")  # load the model outside the timings

    started = time.perf_counter()
    embedder.embed_passages(passages)
    model_s = time.perf_counter() - started

    started = time.perf_counter()
    for _ in range(20):
        embedder.embed_query("qual o prazo de entrega para o meu endereço?")
    query_ms = (time.perf_counter() - started) / 20 * 1000

    document = "\n\n".join(passages)
    started = time.perf_counter()
    chunks = chunk_text(document)
    chunk_s = time.perf_counter() - started

    client = redis.Redis.from_url(args.redis_url)
    cached = CachedEmbedder(embedder, client, ttl_s=600)
    started = time.perf_counter()
    miss = cached.embed(passages, "passage")
    miss_s = time.perf_counter() - started
    started = time.perf_counter()
    hit = cached.embed(passages, "passage")
    hit_s = time.perf_counter() - started
    client.delete(*(cached.cache_key(p, "passage") for p in passages))

    print(json.dumps({
        "model": embedder.model,
        "dim": embedder.dim,
        "batch_size": embedder.batch_size,
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "passages": len(passages),
        "avg_tokens_per_passage": round(tokens / len(passages), 1),
        "model_passages_per_s": round(len(passages) / model_s, 2),
        "query_latency_ms": round(query_ms, 2),
        "chunking_tokens_per_s": round(tokens / chunk_s),
        "chunks": len(chunks),
        "cache_miss_pass": {"seconds": round(miss_s, 3), "computed": miss.computed, "hits": miss.cache_hits},
        "cache_hit_pass": {"seconds": round(hit_s, 4), "computed": hit.computed, "hits": hit.cache_hits,
                           "passages_per_s": round(len(passages) / hit_s)},
    }, indent=2))


if __name__ == "__main__":
    main()
