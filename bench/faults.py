"""Fault runs against the real stack (issue 12's targets), with numbers.

    RENUM_BENCH_PG_PORT=15745 RENUM_BENCH_REDIS_PORT=15746 \
        python -m bench.faults [--only redis broker worker] [--clients 10] [--out FILE]

The whole `./renum run` topology runs as subprocesses under infra/supervisor.py (worker pools
per workload, beat, a multi-process API) on the bench Postgres and Redis (bench/stack.py);
the hosted model is the fake OpenAI server of tests/fakes (answers instantly over HTTP).
Scenarios:
- redis: `--clients` senders chat for 60 s (memory on); Redis is SIGKILLed at 10 s and
  restarted (same port, append-only file) at 40 s. Per phase: requests, answered (2xx),
  non-JSON responses; failures after Redis is back. Every question stored once, one answer each.
- broker: 20 conversations x 3 messages, then FLUSHALL (every queued memory task and debounce
  key lost): seconds until every turn is indexed and every due summary written (the sweeps).
- worker: a document is ingesting when its worker pool is SIGKILLed (the whole process tree):
  seconds until it is taken back (supervisor restart + lease expiry + reconciler: attempt 2)
  and until it is `ready` again, attempts, duplicate chunks.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import psycopg
import redis

from bench import stack as bench_stack
from infra.local import WORKER_POOLS, worker_command
from infra.supervisor import Supervisor
from bench.fake_model import FakeOpenAIServer

ROOT = Path(__file__).resolve().parents[1]
MODEL = "bench-fake"
CONFIG = """
model_list:
  - {{model_name: renum-local, litellm_params: {{model: renum-llamacpp/default}}}}
  - {{model_name: {model}, litellm_params: {{model: openai/fake-ok, api_key: sk-bench, api_base: {base}, timeout: 10}}}}
router_settings:
  num_retries: 0
"""


class Stack:
    """Supervised API + worker pools + beat on the bench services."""

    def __init__(self, api_port: int, api_workers: int):
        self.services = bench_stack.start("renum_faults")
        self.fake = FakeOpenAIServer().start()
        config = Path(tempfile.mkdtemp()) / "litellm.yaml"
        config.write_text(CONFIG.format(model=MODEL, base=self.fake.base_url))
        env = dict(os.environ, PYTHONPATH=str(ROOT), LITELLM_LOCAL_MODEL_COST_MAP="True",
                   RENUM_LITELLM_CONFIG=str(config), RENUM_RATE_LIMIT_PER_MINUTE="1000000",
                   RENUM_ORG_RATE_LIMIT_PER_MINUTE="1000000", RENUM_CHAT_MESSAGES_PER_MINUTE="1000000")
        commands = {f"worker-{name}": worker_command(concurrency, queues, name)
                    for name, queues, concurrency in WORKER_POOLS}
        commands["beat"] = [sys.executable, "-m", "celery", "-A", "workers.celery_app", "beat", "--loglevel",
                            "WARNING", "-s", str(bench_stack.BENCH_DIR / "faults-beat-schedule")]
        commands["api"] = [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port",
                           str(api_port), "--workers", str(api_workers), "--log-level", "warning",
                           "--timeout-graceful-shutdown", "10"]
        self.supervisor = Supervisor(commands, env=env, cwd=ROOT)
        self.running = True
        self.thread = threading.Thread(target=self._supervise, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{api_port}"
        try:  # a loaded 2-core machine imports the API (LiteLLM) slowly in each process
            _wait(lambda: _get(self.url + "/healthz") == 200, 300, "API")
            self.headers = self._tenant()
        except BaseException:
            self.stop()
            raise

    def _supervise(self) -> None:
        while self.running:
            self.supervisor.check()
            time.sleep(0.5)

    def _tenant(self) -> dict:
        from api.core.auth import mint_dev_token
        from api.core.config import get_settings
        user = uuid.uuid4()
        with psycopg.connect(self.services.admin_url, autocommit=True) as conn:
            conn.execute("insert into auth.users (id, email) values (%s, %s)", [user, f"{user}@bench.local"])
        token = mint_dev_token(user, get_settings())
        org = httpx.post(self.url + "/v1/organizations", json={"name": "Faults", "slug": f"f-{user.hex[:10]}"},
                         headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
        return {"Authorization": f"Bearer {token}", "X-Organization-Id": org["id"]}

    def redis_pid(self) -> int:
        return int((bench_stack.BENCH_DIR / "redis" / "redis.pid").read_text().strip())

    def child(self, name: str):
        return next(c for c in self.supervisor.children if c.name == name)

    def stop(self) -> None:
        self.running = False
        self.thread.join(5)
        self.supervisor.stop()
        self.fake.stop()


def _get(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.HTTPError:
        return None


def _wait(predicate, timeout: float, what: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.5)
    raise RuntimeError(f"{what} not reached within {timeout:.0f}s")


def _agent(s: Stack, http: httpx.Client, **fields) -> str:
    resp = http.post("/v1/agents", json={"name": "Ana", "model": MODEL, "max_tokens": 32, **fields}, headers=s.headers)
    resp.raise_for_status()
    return resp.json()["id"]


def _conversation(http: httpx.Client, s: Stack, agent_id: str) -> str:
    resp = http.post(f"/v1/agents/{agent_id}/conversations", json={"contact_external_id": uuid.uuid4().hex},
                     headers=s.headers)
    resp.raise_for_status()
    return resp.json()["id"]


def scenario_redis(s: Stack, clients: int, duration: float = 60, kill_at: float = 10, back_at: float = 40) -> dict:
    http = httpx.Client(base_url=s.url, timeout=30)
    agent = _agent(s, http)
    results: list[tuple[float, int, bool]] = []
    start = time.monotonic()
    convs: list[str] = []

    def sender() -> None:
        with httpx.Client(base_url=s.url, timeout=30) as own:
            conv = _conversation(own, s, agent)
            convs.append(conv)
            i = 0
            while (now := time.monotonic() - start) < duration:
                try:
                    resp = own.post(f"/v1/agents/{agent}/conversations/{conv}/messages",
                                    json={"content": f"pergunta {i} sobre o pedido", "client_message_id": f"c{i}"},
                                    headers=s.headers)
                    results.append((now, resp.status_code,
                                    resp.headers.get("content-type", "").startswith("application/json")))
                except httpx.HTTPError:
                    results.append((now, 0, False))
                i += 1

    threads = [threading.Thread(target=sender) for _ in range(clients)]
    for t in threads:
        t.start()
    time.sleep(max(0.0, start + kill_at - time.monotonic()))
    os.kill(s.redis_pid(), signal.SIGKILL)
    (bench_stack.BENCH_DIR / "redis" / "redis.pid").unlink(missing_ok=True)
    time.sleep(max(0.0, start + back_at - time.monotonic()))
    from infra import services
    services.start_redis(bench_stack.BENCH_DIR, bench_stack.REDIS_PORT)
    for t in threads:
        t.join()
    phases = {"before": (0, kill_at), "redis_down": (kill_at, back_at), "after": (back_at, duration + 60)}
    out = {}
    for name, (lo, hi) in phases.items():
        rows = [r for r in results if lo <= r[0] < hi]
        ok = sum(1 for r in rows if 200 <= r[1] < 300)
        out[name] = {"requests": len(rows), "answered": ok, "answered_pct": round(100 * ok / max(1, len(rows)), 1),
                     "non_json": sum(1 for r in rows if not r[2]), "statuses": dict(Counter(r[1] for r in rows))}
    with psycopg.connect(s.services.admin_url) as conn:
        dupes = conn.execute("select count(*) from (select reply_to from public.conversation_history "
                             "where conversation_id = any(%s) and reply_to is not null group by reply_to "
                             "having count(*) > 1) d", [convs]).fetchone()[0]
    out["duplicate_answers"] = dupes
    return out


def scenario_broker(s: Stack, conversations: int = 20, messages: int = 3, timeout: float = 600) -> dict:
    http = httpx.Client(base_url=s.url, timeout=60)
    agent = _agent(s, http, settings={"memory_idle_s": 5, "memory_every_n_turns": 100})
    convs = [_conversation(http, s, agent) for _ in range(conversations)]

    def talk(conv: str) -> None:
        with httpx.Client(base_url=s.url, timeout=60) as own:
            for i in range(messages):
                own.post(f"/v1/agents/{agent}/conversations/{conv}/messages",
                         json={"content": f"Meu pedido {i} atrasou, moro em Curitiba"}, headers=s.headers)
    threads = [threading.Thread(target=talk, args=(c,)) for c in convs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    redis.Redis.from_url(s.services.redis_url).flushall()  # every queued memory task and debounce key: gone
    wiped = time.monotonic()

    def pending() -> tuple[int, int]:
        with psycopg.connect(s.services.admin_url) as conn:
            unindexed = conn.execute(
                "select count(*) from public.conversation_history h where h.conversation_id = any(%s) "
                "and h.role in ('user', 'assistant') and not exists (select 1 from public.memories m "
                "where m.message_id = h.id and m.kind = 'turn')", [convs]).fetchone()[0]
            unsummarized = conn.execute(
                "select count(*) from unnest(%s::uuid[]) c(id) where not exists (select 1 from public.memories m "
                "where m.conversation_id = c.id and m.kind = 'summary')", [convs]).fetchone()[0]
        return unindexed, unsummarized

    at_wipe = pending()
    indexed_s = summarized_s = None
    while time.monotonic() - wiped < timeout and (indexed_s is None or summarized_s is None):
        unindexed, unsummarized = pending()
        if indexed_s is None and unindexed == 0:
            indexed_s = round(time.monotonic() - wiped, 1)
        if summarized_s is None and unsummarized == 0:
            summarized_s = round(time.monotonic() - wiped, 1)
        time.sleep(2)
    return {"turns": conversations * messages * 2, "pending_at_wipe": {"unindexed_turns": at_wipe[0],
                                                                       "conversations_without_summary": at_wipe[1]},
            "all_indexed_after_s": indexed_s, "all_summarized_after_s": summarized_s}


def _tree(pid: int) -> list[int]:
    pids = [pid]
    for child in Path(f"/proc/{pid}/task").glob("*/children"):
        for c in child.read_text().split():
            pids += _tree(int(c))
    return pids


def scenario_worker(s: Stack, paragraphs: int = 150) -> dict:
    http = httpx.Client(base_url=s.url, timeout=60)
    kb = http.post("/v1/knowledge-bases", json={"name": "kb", "language": "portuguese"}, headers=s.headers).json()
    text = "\n\n".join(f"Parágrafo {i}: a loja troca produtos com defeito em até {i % 30 + 1} dias, "
                       f"com nota fiscal e embalagem original; frete por conta da loja {uuid.uuid4().hex}."
                       for i in range(paragraphs))
    doc = http.post(f"/v1/knowledge-bases/{kb['id']}/documents/text", json={"title": "Trocas", "text": text},
                    headers=s.headers).json()

    def state() -> dict:
        return http.get(f"/v1/documents/{doc['id']}", headers=s.headers).json()
    _wait(lambda: state()["status"] == "processing" and state()["progress"] > 0.1, 120, "document processing")
    worker = s.child("worker-ingest")
    for pid in _tree(worker.proc.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    killed = time.monotonic()
    # Taken back: the reconciler re-enqueued it and a worker claimed it again (attempt 2).
    reclaimed = _wait(lambda: state()["attempts"] >= 2, 600, "document reclaimed")
    _wait(lambda: state()["status"] in ("ready", "failed"), 900, "document done")
    final = state()
    with psycopg.connect(s.services.admin_url) as conn:
        dupes = conn.execute("select count(*) from (select ordinal from public.document_chunks where document_id = %s "
                             "group by ordinal having count(*) > 1) d", [doc["id"]]).fetchone()[0]
    return {"status": final["status"], "reclaimed_after_s": round(reclaimed, 1),
            "back_to_ready_s": round(time.monotonic() - killed, 1),
            "attempts": final["attempts"], "chunks": final["chunk_count"], "duplicate_chunks": dupes,
            "worker_restarts": worker.restarts}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=["redis", "broker", "worker"])
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--api-port", type=int, default=int(os.environ.get("RENUM_BENCH_API_PORT", "8745")))
    parser.add_argument("--api-workers", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    s = Stack(args.api_port, args.api_workers)
    report: dict = {"load": os.getloadavg(), "cpus": os.cpu_count()}
    try:
        for name in args.only:
            began = time.monotonic()
            report[name] = {"redis": lambda: scenario_redis(s, args.clients), "broker": lambda: scenario_broker(s),
                            "worker": lambda: scenario_worker(s)}[name]()
            report[name]["scenario_s"] = round(time.monotonic() - began, 1)
            print(name, json.dumps(report[name], ensure_ascii=False), flush=True)
    finally:
        s.stop()
    report["load_after"] = os.getloadavg()
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
