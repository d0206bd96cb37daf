"""`/healthz` latency while one tenant sends the worst-case inputs of issue 10.

    RENUM_BENCH_PG_PORT=15741 RENUM_BENCH_REDIS_PORT=16741 \
    python -m bench.hostile [--seconds 30] [--attackers 3] [--api-root DIR] [--out FILE]

The real API runs in a uvicorn subprocess on the bench stack (bench/stack.py; no worker, so
uploads stay queued). A probe requests GET /healthz every 20 ms for the whole run; first for
--baseline seconds with no other traffic, then while --attackers threads send, round robin:
a 32 KB and a 1 MB markdown emphasis bomb, deep HTML, a .docx zip bomb, a chat message to an
agent whose stored system prompt nests three loops over range(1000), an agent saved with four
such loops, JSON nested 10,000 deep, a 2 MB JSON body, NUL characters and hostile pagination
cursors. Prints the probe's p50/p95/p99/max and the attack's status counts (no 5xx expected).
--api-root runs another checkout's API (e.g. `git archive <commit> | tar -x -C /tmp/old`) on
the same stack, for a before/after comparison. Results: BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import base64
import io
import itertools
import json
import os
import threading
import time
import uuid
import zipfile
from collections import Counter
from pathlib import Path

import httpx

from bench.chat_overhead import start_api
from bench.metrics import percentile

ROOT = Path(__file__).resolve().parents[1]
LOOPS3 = "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}x" \
         "{% endfor %}{% endfor %}{% endfor %}"
LOOPS4 = "{% for d in range(1000) %}" + LOOPS3 + "{% endfor %}"


def docx_bomb(paragraphs: int = 1_000_000) -> bytes:
    body = b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/' \
           b'main"><w:body>' + b"<w:p/>" * paragraphs + b"</w:body></w:document>"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                         'package/2006/content-types"/>')
        archive.writestr("word/document.xml", body)
    return out.getvalue()


def attacks(http: httpx.Client, headers: dict, kb: str, agent: str, conversation: str):
    """Callables, each sending one worst-case request and returning its status."""
    counter = itertools.count()
    bomb = docx_bomb()
    json_headers = {**headers, "Content-Type": "application/json"}
    cursor = base64.urlsafe_b64encode(json.dumps(["2026-01-01T00:00:00+00:00", 5]).encode()).decode()

    def upload(name: str, data: bytes, mime: str):
        return lambda: http.post(f"/v1/knowledge-bases/{kb}/documents", headers=headers,
                                 files={"file": (name, data + f"\n{next(counter)}".encode(), mime)}).status_code

    return {
        "markdown-32k": upload("bomb.md", b"**a " * 8_000, "text/markdown"),
        "markdown-1mb": upload("bomb-1mb.md", b"**a " * 262_000, "text/markdown"),
        "html-deep": upload("deep.html", b"<div>" * 5_000 + b"x", "text/html"),
        "docx-bomb": lambda: http.post(f"/v1/knowledge-bases/{kb}/documents", headers=headers,
                                       files={"file": ("bomb.docx", bomb, "application/octet-stream")}).status_code,
        "chat-loops": lambda: http.post(f"/v1/agents/{agent}/conversations/{conversation}/messages",
                                        headers=headers, json={"content": f"oi {next(counter)}"}).status_code,
        "template-loops": lambda: http.post("/v1/agents", headers=headers,
                                            json={"name": "x", "system_prompt": LOOPS4}).status_code,
        "json-deep": lambda: http.post("/v1/agents", headers=json_headers, content=b'{"name": "x", "settings": '
                                       + b"[" * 10_000 + b"]" * 10_000 + b"}").status_code,
        "json-2mb": lambda: http.post("/v1/agents", headers=json_headers, content=json.dumps(
            {"name": "x", "description": "d" * 2_000_000}).encode()).status_code,
        "nul": lambda: http.post("/v1/contacts", headers=headers, json={"external_id": "a\x00b"}).status_code,
        "cursor": lambda: http.get("/v1/agents", headers=headers, params={"cursor": cursor}).status_code,
        # Control, not an attack (--only benign): ordinary authenticated reads at the same rate.
        "benign": lambda: http.get("/v1/agents", headers=headers).status_code,
    }


def probe(base: str, stop: threading.Event, out: list[float], every_s: float = 0.02) -> None:
    """A failed or timed-out probe counts with the time it waited (a stalled API must show)."""
    with httpx.Client(base_url=base, timeout=60) as http:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                http.get("/healthz").raise_for_status()
            except httpx.HTTPError:
                pass
            out.append((time.perf_counter() - started) * 1000)
            time.sleep(max(0.0, every_s - (time.perf_counter() - started)))


def summary(ms: list[float]) -> dict:
    return {"n": len(ms), "p50": round(percentile(ms, 50), 1), "p95": round(percentile(ms, 95), 1),
            "p99": round(percentile(ms, 99), 1), "max": round(max(ms), 1) if ms else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--baseline", type=float, default=5)
    parser.add_argument("--attackers", type=int, default=3)
    parser.add_argument("--port", type=int, default=18767)
    parser.add_argument("--api-root", type=Path, default=ROOT)
    parser.add_argument("--only", nargs="*", help="attack names (default: all but the `benign` control)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from bench import stack as bench_stack
    stack = bench_stack.start("renum_bench_hostile", redis_db=7)
    import psycopg

    from api.core.auth import mint_dev_token
    from api.core.config import get_settings
    env = dict(os.environ, DATABASE_URL=stack.app_url, REDIS_URL=stack.redis_url, RENUM_CHAT_MESSAGES_PER_MINUTE="0",
               RENUM_RATE_LIMIT_PER_MINUTE="0", RENUM_ORG_RATE_LIMIT_PER_MINUTE="0",
               LITELLM_LOCAL_MODEL_COST_MAP="True", PYTHONPATH=str(args.api_root))
    api = start_api(env, args.port, args.api_root)
    base = f"http://127.0.0.1:{args.port}"
    try:
        user_id = uuid.uuid4()
        with psycopg.connect(stack.admin_url, autocommit=True) as admin:
            admin.execute("insert into auth.users (id, email) values (%s, %s)", [user_id, f"{user_id}@bench"])
        headers = {"Authorization": f"Bearer {mint_dev_token(user_id, get_settings())}"}
        http = httpx.Client(base_url=base, timeout=600)
        org = http.post("/v1/organizations", json={"name": "Bench", "slug": f"h-{user_id.hex[:10]}"},
                        headers=headers).json()["id"]
        headers["X-Organization-Id"] = org
        kb = http.post("/v1/knowledge-bases", json={"name": "kb"}, headers=headers).json()["id"]
        agent = http.post("/v1/agents", json={"name": "a", "memory_enabled": False}, headers=headers).json()["id"]
        conversation = http.post(f"/v1/agents/{agent}/conversations", json={"contact_external_id": "c"},
                                 headers=headers).json()["id"]
        with psycopg.connect(stack.admin_url, autocommit=True) as admin:  # saved before the budget existed
            admin.execute("update public.agents set system_prompt = %s where id = %s", [LOOPS3, agent])

        stop, quiet = threading.Event(), []
        prober = threading.Thread(target=probe, args=(base, stop, quiet))
        prober.start()
        time.sleep(args.baseline)
        stop.set()
        prober.join()

        stop, loaded, statuses, lock = threading.Event(), [], Counter(), threading.Lock()
        deadline = time.monotonic() + args.seconds

        def attacker(offset: int) -> None:
            with httpx.Client(base_url=base, timeout=60) as own:
                every = attacks(own, headers, kb, agent, conversation)
                calls = [every[name] for name in args.only or [n for n in every if n != "benign"]]
                for call in itertools.islice(itertools.cycle(calls), offset, None):
                    if time.monotonic() > deadline:
                        return
                    try:
                        status = call()
                    except httpx.HTTPError as exc:
                        status = type(exc).__name__
                    with lock:
                        statuses[status] += 1

        prober = threading.Thread(target=probe, args=(base, stop, loaded))
        prober.start()
        workers = [threading.Thread(target=attacker, args=(i * 3,)) for i in range(args.attackers)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=args.seconds + 3600)
        stop.set()
        prober.join()
        results = {"api_root": str(args.api_root), "seconds": args.seconds, "attackers": args.attackers,
                   "attacks": args.only or "all",
                   "healthz_quiet_ms": summary(quiet), "healthz_under_attack_ms": summary(loaded),
                   "attack_statuses": {str(k): v for k, v in sorted(statuses.items(), key=str)},
                   "load": os.getloadavg()}
    finally:
        api.terminate()
        try:
            api.wait(timeout=10)
        except Exception:  # an API stuck in a render does not finish its requests
            api.kill()
    print(json.dumps(results, indent=2))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
