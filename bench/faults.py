"""Fault and load runs against the real stack (issue 12's targets), with numbers.

    RENUM_BENCH_PG_PORT=15745 RENUM_BENCH_REDIS_PORT=15746 \
        python -m bench.faults [--only redis broker worker throughput webhook_timing] [--clients N]
        [--duration 60] [--warmup 5] [--webhook-backoff 1] [--api-workers 2] [--out FILE]

The whole `./renum run` topology runs as subprocesses under infra/supervisor.py (worker pools
per workload, beat, a multi-process API) on the bench Postgres and Redis (bench/stack.py);
the hosted model is the fake OpenAI server of bench/fake_model.py (answers instantly over HTTP).
The default `--only` is redis broker worker; throughput and webhook_timing run when named.
Scenarios:
- redis: `--clients` (10) senders chat for 60 s (memory on); Redis is SIGKILLed at 10 s and
  restarted (same port, append-only file) at 40 s. Per phase: requests, answered (2xx),
  non-JSON responses; failures after Redis is back. Every question stored once, one answer each.
- broker: 20 conversations x 3 messages, then FLUSHALL (every queued memory task and debounce
  key lost): seconds until every turn is indexed and every due summary written (the sweeps).
- worker: a document is ingesting when its worker pool is SIGKILLed (the whole process tree):
  seconds until it is taken back (supervisor restart + lease expiry + reconciler: attempt 2)
  and until it is `ready` again, attempts, duplicate chunks.
- throughput: `--clients` (25) senders, each in its own conversation of one memory-on agent,
  post messages back-to-back (JSON, not streaming) for `--duration` s, after a `--warmup` s
  load in other conversations whose backlog is drained first. Answered, msg/s, client
  latency p50/p95/p99, non-2xx by status, CPU % per process tree (/proc; 100 = one core); then
  the memory backlog (turns without a `turn` memory): at the end, its peak, and seconds until
  it drains (capped by `--drain-cap`). Target: >= 35 msg/s, p95 <= 1.5 s on 2 cores, a 60 s
  run's backlog drained within 120 s.
- webhook_timing: the same chat load while a `webhook.test` event is sent every
  `--webhook-every` s to a receiver on 127.0.0.1 that answers 500 to each delivery's first
  attempt and 200 after; the stack's RENUM_WEBHOOK_BACKOFF_S is `--webhook-backoff`, so each
  retry is due that long after the first attempt. Lateness = second arrival - (first arrival +
  backoff), p50/p95/p99/max. Target: every retry within 2 s of its due time.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
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
from bench.fake_model import FakeOpenAIServer, litellm_config

ROOT = Path(__file__).resolve().parents[1]
MODEL = "bench-fake"


class Stack:
    """Supervised API + worker pools + beat on the bench services."""

    def __init__(self, api_port: int, api_workers: int, env: dict[str, str] | None = None):
        self.services = bench_stack.start("renum_faults")
        self.fake = FakeOpenAIServer().start()
        config = litellm_config(MODEL, self.fake.base_url)
        env = dict(os.environ, PYTHONPATH=str(ROOT), LITELLM_LOCAL_MODEL_COST_MAP="True",
                   RENUM_LITELLM_CONFIG=str(config), RENUM_RATE_LIMIT_PER_MINUTE="1000000",
                   RENUM_ORG_RATE_LIMIT_PER_MINUTE="1000000", RENUM_CHAT_MESSAGES_PER_MINUTE="1000000",
                   LITELLM_LOG="WARNING", **(env or {}))  # not a line per model call from every process
        commands = {f"worker-{name}": worker_command(concurrency, queues, name, nice)
                    for name, queues, concurrency, nice in WORKER_POOLS}
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


def _unindexed(conn: psycopg.Connection, convs: list[str]) -> int:
    """Turns of these conversations the memory worker has not indexed yet (no `turn` memory)."""
    return conn.execute(
        "select count(*) from public.conversation_history h where h.conversation_id = any(%s) "
        "and h.role in ('user', 'assistant') and not exists (select 1 from public.memories m "
        "where m.message_id = h.id and m.kind = 'turn')", [convs]).fetchone()[0]


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
            unsummarized = conn.execute(
                "select count(*) from unnest(%s::uuid[]) c(id) where not exists (select 1 from public.memories m "
                "where m.conversation_id = c.id and m.kind = 'summary')", [convs]).fetchone()[0]
            return _unindexed(conn, convs), unsummarized

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
        try:
            found = child.read_text().split()
        except OSError:  # the thread or process ended meanwhile
            continue
        for c in found:
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


def _ticks(pid: int) -> int:
    """CPU time (clock ticks, user + system, all threads) a process has used so far; 0 once gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0
    return int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of proc(5)


def _cpu_snapshot(s: Stack) -> dict[str, dict[int, int]]:
    """Ticks per process of each supervised process tree, Postgres, Redis and this bench process."""
    roots = {c.name: c.proc.pid for c in s.supervisor.children if c.proc is not None and c.proc.poll() is None}
    try:
        roots["postgres"] = int((bench_stack.BENCH_DIR / "pg" / "postmaster.pid").read_text().split()[0])
        roots["redis"] = s.redis_pid()
    except (OSError, ValueError, IndexError):
        pass
    snap = {name: {pid: _ticks(pid) for pid in _tree(pid)} for name, pid in roots.items()}
    snap["bench_clients"] = {os.getpid(): _ticks(os.getpid())}  # only itself: the supervisor's children are its own
    return snap


def _cpu_pct(before: dict[str, dict[int, int]], after: dict[str, dict[int, int]], seconds: float) -> dict:
    """CPU % per group between two snapshots (100 = one core busy); processes that exited in between are missed."""
    hz = os.sysconf("SC_CLK_TCK")
    return {name: round(100 * sum(t - before.get(name, {}).get(pid, 0) for pid, t in pids.items()) / hz / seconds, 1)
            for name, pids in after.items()}


def _summary(values: list[float]) -> dict[str, float]:
    from bench.metrics import percentile
    return {f"p{q}": round(percentile(values, q), 3) for q in (50, 95, 99)} | {
        "max": round(max(values), 3) if values else float("nan")}


class _ChatLoad:
    """`clients` senders, each in its own conversation of `agent`, posting messages back-to-back
    (JSON, not streaming) for `duration` seconds; records (start offset, status, seconds) per request."""

    def __init__(self, s: Stack, agent: str, clients: int, duration: float):
        self.s, self.agent, self.duration = s, agent, duration
        with httpx.Client(base_url=s.url, timeout=60) as http:
            self.convs = [_conversation(http, s, agent) for _ in range(clients)]
        self.results: list[tuple[float, int, float]] = []
        self.running = clients
        self.done = threading.Event()  # set when the last sender got its last answer
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._send, args=(n, conv), daemon=True)
                        for n, conv in enumerate(self.convs)]
        self.start = self.ended = 0.0

    def run(self) -> _ChatLoad:
        self.start = time.monotonic()
        for t in self.threads:
            t.start()
        return self

    def join(self) -> float:
        """Wait for the last answer; returns the load's wall time (first send to last answer)."""
        for t in self.threads:
            t.join()
        return self.ended - self.start

    def _send(self, n: int, conv: str) -> None:
        with httpx.Client(base_url=self.s.url, timeout=30) as own:
            i = 0
            while (at := time.monotonic() - self.start) < self.duration:
                began = time.perf_counter()
                try:
                    status = own.post(f"/v1/agents/{self.agent}/conversations/{conv}/messages",
                                      json={"content": f"cliente {n}, pergunta {i}: onde está meu pedido?",
                                            "client_message_id": f"c{n}-{i}"}, headers=self.s.headers).status_code
                except httpx.HTTPError:
                    status = 0
                self.results.append((at, status, time.perf_counter() - began))
                i += 1
        with self.lock:
            self.running -= 1
            if not self.running:
                self.ended = time.monotonic()
                self.done.set()

    def report(self) -> dict:
        wall = self.ended - self.start
        ok = [r[2] for r in self.results if 200 <= r[1] < 300]
        return {"clients": len(self.convs), "duration_s": self.duration, "wall_s": round(wall, 1),
                "requests": len(self.results), "answered": len(ok), "msg_per_s": round(len(ok) / wall, 2),
                "latency_s": _summary(ok),
                "non_2xx": dict(Counter(str(r[1]) for r in self.results if not 200 <= r[1] < 300))}


def _warm_up(s: Stack, agent: str, clients: int, seconds: float, drain_cap: float = 120) -> dict:
    """A short chat load in conversations of its own, then its memory backlog drained, so the
    measured run starts warm (each API process's first answers, the memory worker's embedder)
    and with no backlog of its own."""
    if seconds <= 0:
        return {}
    load = _ChatLoad(s, agent, min(clients, 4), seconds).run()
    load.join()
    with psycopg.connect(s.services.admin_url, autocommit=True) as conn:
        try:
            drained = round(_wait(lambda: _unindexed(conn, load.convs) == 0, drain_cap, "warm-up backlog drained"), 1)
        except RuntimeError:
            drained = None
    return {"requests": len(load.results), "answered": sum(1 for r in load.results if 200 <= r[1] < 300),
            "backlog_drained_s": drained}


def scenario_throughput(s: Stack, clients: int = 25, duration: float = 60, drain_cap: float = 300,
                        warmup: float = 5) -> dict:
    """Chat with memory on: messages/s and latency, then the memory backlog's peak and drain time."""
    with httpx.Client(base_url=s.url, timeout=60) as http:
        agent = _agent(s, http, memory_enabled=True)
    warm = _warm_up(s, agent, clients, warmup)
    load = _ChatLoad(s, agent, clients, duration)
    timeline: list[tuple[float, int]] = []  # (seconds since the load began, unindexed turns)
    with psycopg.connect(s.services.admin_url, autocommit=True) as conn:
        cpu_from, cpu_before = time.monotonic(), _cpu_snapshot(s)
        load.run()
        while not load.done.wait(2):
            timeline.append((time.monotonic() - load.start, _unindexed(conn, load.convs)))
        cpu = _cpu_pct(cpu_before, _cpu_snapshot(s), time.monotonic() - cpu_from)
        load.join()
        at_end = _unindexed(conn, load.convs)
        ended, drained_s, left = load.ended, None, at_end  # drain time counts from the last answer
        timeline.append((ended - load.start, at_end))
        while left and time.monotonic() - ended < drain_cap:
            time.sleep(1)
            left = _unindexed(conn, load.convs)
            timeline.append((time.monotonic() - load.start, left))
        if left == 0:
            drained_s = round(time.monotonic() - ended, 1)
        turns = conn.execute("select count(*) from public.conversation_history where conversation_id = any(%s) "
                             "and role in ('user', 'assistant')", [load.convs]).fetchone()[0]
    every_10s = {}
    for at, n in timeline:  # the last sample of each 10 s step
        every_10s[int(at // 10) * 10] = n
    return load.report() | {
        "warmup": warm, "cpu_pct_during_load": cpu,
        "memory_backlog": {"turns_stored": turns, "unindexed_at_end": at_end,
                           "peak": max(n for _, n in timeline), "drained_after_s": drained_s,
                           "drain_cap_s": drain_cap, "left_at_cap": left if drained_s is None else 0,
                           "unindexed_every_10s": every_10s}}


class _Receiver:
    """A webhook receiver on 127.0.0.1: answers 500 to the first attempt of each delivery (by
    `webhook-id`) and 200 to the later ones, recording each attempt's arrival time (monotonic)."""

    def __init__(self):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        arrivals: dict[str, list[float]] = {}
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args) -> None:
                pass

            def do_POST(self) -> None:
                at = time.monotonic()
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    seen = arrivals.setdefault(self.headers.get("webhook-id", ""), [])
                    seen.append(at)
                    first = len(seen) == 1
                body = b"first attempt fails" if first else b"ok"
                self.send_response(500 if first else 200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.arrivals = arrivals
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def scenario_webhook_timing(s: Stack, backoff_s: float, clients: int = 25, duration: float = 60,
                            every_s: float = 2.0, warmup: float = 5, wait_cap: float = 120) -> dict:
    """Under chat load, a `webhook.test` event every `every_s`; each delivery's first attempt gets
    a 500, so its retry is due `backoff_s` later (RENUM_WEBHOOK_BACKOFF_S of the workers): how late
    does it arrive? lateness = second arrival - (first arrival + backoff), measured at the receiver
    (the due time is really set a few ms after the first arrival, once the 500 is recorded, so
    this slightly overstates it)."""
    receiver = _Receiver()
    http = httpx.Client(base_url=s.url, timeout=30)
    try:
        agent = _agent(s, http, memory_enabled=True)
        _warm_up(s, agent, clients, warmup)
        # Subscribed to a type the chat load never emits: only the test events are delivered.
        endpoint = http.post("/v1/webhooks", json={"url": receiver.url, "event_types": ["contact.deleted"],
                                                   "description": "bench.faults webhook_timing"}, headers=s.headers)
        endpoint.raise_for_status()
        hook = endpoint.json()["id"]
        load = _ChatLoad(s, agent, clients, duration).run()
        triggered: dict[str, float] = {}  # event id (the webhook-id header) -> when it was triggered
        trigger_errors: Counter = Counter()
        while time.monotonic() - load.start < duration:
            at = time.monotonic()
            try:
                resp = http.post(f"/v1/webhooks/{hook}/test", headers=s.headers)
                if resp.status_code == 202:
                    triggered[resp.json()["event_id"]] = at
                else:
                    trigger_errors[str(resp.status_code)] += 1
            except httpx.HTTPError:
                trigger_errors["0"] += 1
            time.sleep(max(0.0, at + every_s - time.monotonic()))
        load.join()

        def retried() -> bool:
            return all(len(receiver.arrivals.get(e, ())) >= 2 for e in triggered)
        try:
            _wait(retried, wait_cap, "every retry")
        except RuntimeError:
            pass
        lateness, first_after, missing = [], [], 0
        for event, at in triggered.items():
            seen = receiver.arrivals.get(event, [])
            if seen:
                first_after.append(seen[0] - at)
            if len(seen) >= 2:
                lateness.append(seen[1] - (seen[0] + backoff_s))
            else:
                missing += 1
        http.delete(f"/v1/webhooks/{hook}", headers=s.headers)
    finally:
        http.close()
        receiver.stop()
    return {"backoff_s": backoff_s, "events": len(triggered), "trigger_errors": dict(trigger_errors),
            "retried": len(lateness), "not_retried_within_cap": missing,
            "retry_lateness_s": _summary(lateness),
            "retries_later_than_2s": sum(1 for x in lateness if x > 2),
            "first_attempt_after_trigger_s": _summary(first_after),
            "more_than_two_attempts": sum(1 for a in receiver.arrivals.values() if len(a) > 2),
            "chat": load.report()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=["redis", "broker", "worker"],
                        choices=["redis", "broker", "worker", "throughput", "webhook_timing"])
    parser.add_argument("--clients", type=int, help="chat clients (default: redis 10, throughput/webhook_timing 25)")
    parser.add_argument("--duration", type=float, default=60, help="seconds of chat load (throughput, webhook_timing)")
    parser.add_argument("--warmup", type=float, default=5,
                        help="seconds of chat before the measured load (its backlog drained first)")
    parser.add_argument("--drain-cap", type=float, default=300, help="seconds to wait for the memory backlog")
    parser.add_argument("--webhook-backoff", type=float, default=1.0,
                        help="RENUM_WEBHOOK_BACKOFF_S of the stack: the first retry's delay (webhook_timing)")
    parser.add_argument("--webhook-every", type=float, default=2.0, help="seconds between test events")
    parser.add_argument("--api-port", type=int, default=int(os.environ.get("RENUM_BENCH_API_PORT", "8745")))
    parser.add_argument("--api-workers", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    s = Stack(args.api_port, args.api_workers, env={"RENUM_WEBHOOK_BACKOFF_S": str(args.webhook_backoff),
                                                    "RENUM_EGRESS_ALLOW_PRIVATE": "true"})  # the receiver: 127.0.0.1
    report: dict = {"load": os.getloadavg(), "cpus": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)),
                    "api_workers": args.api_workers}
    scenarios = {
        "redis": lambda: scenario_redis(s, args.clients or 10),
        "broker": lambda: scenario_broker(s),
        "worker": lambda: scenario_worker(s),
        "throughput": lambda: scenario_throughput(s, args.clients or 25, args.duration, args.drain_cap,
                                                      args.warmup),
        "webhook_timing": lambda: scenario_webhook_timing(s, args.webhook_backoff, args.clients or 25, args.duration,
                                                          args.webhook_every, args.warmup),
    }
    try:
        for name in args.only:
            began = time.monotonic()
            report[name] = scenarios[name]()
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
