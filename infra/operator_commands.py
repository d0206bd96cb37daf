"""Operator commands that drive a running Renum through its public API (like the console does):

    ./renum ingest DIR --kb NAME     upload a folder's documents, with a progress bar until indexed
    ./renum chat AGENT               chat with an agent (name or id) in the terminal, streamed

They use RENUM_TOKEN (a user token or an API key) or, locally, a dev token for the dev user,
and RENUM_URL (default: the local API address from the settings).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path

import httpx

SUFFIXES = {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx", ".json"}
BAR = 30


def _client() -> httpx.Client:
    from api.core.config import get_settings
    settings = get_settings()
    token = os.environ.get("RENUM_TOKEN")
    if not token:
        from api.core.auth import mint_dev_token
        from infra.local import DEV_USER_ID
        token = mint_dev_token(DEV_USER_ID, settings, ttl_s=3600)
    headers = {"Authorization": f"Bearer {token}"}
    if os.environ.get("RENUM_ORG_ID"):
        headers["X-Organization-Id"] = os.environ["RENUM_ORG_ID"]
    base = os.environ.get("RENUM_URL") or f"http://{settings.api_host}:{settings.api_port}"
    return httpx.Client(base_url=base, headers=headers, timeout=httpx.Timeout(30, read=300))


def _check(resp: httpx.Response) -> dict:
    if resp.is_success:
        return resp.json() if resp.content else {}
    try:
        error = resp.json()["error"]
        message = f"{error.get('code')}: {error.get('message')}"
    except (ValueError, KeyError, TypeError):
        message = resp.text[:300]
    raise SystemExit(f"renum: {resp.request.method} {resp.request.url.path} failed ({resp.status_code}) {message}")


def progress(done: float, total: float, label: str, out=None) -> None:
    out = out or sys.stderr
    frac = 0 if total <= 0 else min(1.0, done / total)
    filled = int(BAR * frac)
    out.write(f"\r[{'#' * filled}{'.' * (BAR - filled)}] {frac * 100:5.1f}% {label[:50]:<50}")
    out.flush()


def _knowledge_base(client: httpx.Client, name: str) -> dict:
    cursor = None
    while True:
        page = _check(client.get("/v1/knowledge-bases", params={"limit": 100, **({"cursor": cursor} if cursor else {})}))
        for kb in page["data"]:
            if kb["name"] == name:
                return kb
        cursor = page.get("next_cursor")
        if not cursor:
            break
    print(f"creating knowledge base {name!r}", file=sys.stderr)
    return _check(client.post("/v1/knowledge-bases", json={"name": name}))


def ingest(args: argparse.Namespace) -> int:
    root = Path(args.dir)
    files = sorted(p for p in (root.rglob("*") if root.is_dir() else [root]) if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not files:
        raise SystemExit(f"renum: no documents ({', '.join(sorted(SUFFIXES))}) under {root}")
    with _client() as client:
        kb = _knowledge_base(client, args.kb)
        docs = []
        for i, path in enumerate(files):
            progress(i, len(files), f"uploading {path.name}")
            with path.open("rb") as fh:
                docs.append(_check(client.post(f"/v1/knowledge-bases/{kb['id']}/documents",
                                               files={"file": (path.name, fh)}, data={"source": "renum-ingest"})))
        progress(len(files), len(files), "uploaded")
        print(file=sys.stderr)
        deadline = time.monotonic() + args.timeout
        states: dict[str, dict] = {}
        while time.monotonic() < deadline:
            states = {d["id"]: _check(client.get(f"/v1/documents/{d['id']}")) for d in docs}
            done = sum(1 for s in states.values() if s["status"] in ("ready", "failed"))
            partial = sum(s["progress"] for s in states.values() if s["status"] == "processing")
            progress(done + partial, len(docs), f"indexing: {done}/{len(docs)} done")
            if done == len(docs):
                break
            time.sleep(0.5)
        print(file=sys.stderr)
    failed = [s for s in states.values() if s["status"] == "failed"]
    pending = [s for s in states.values() if s["status"] not in ("ready", "failed")]
    for s in failed:
        print(f"failed: {s['title']}: {s['error']}", file=sys.stderr)
    ready = len(states) - len(failed) - len(pending)
    print(f"{ready} ready, {len(failed)} failed, {len(pending)} still processing in knowledge base {kb['name']} ({kb['id']})")
    return 1 if failed or pending else 0


def _agent(client: httpx.Client, name_or_id: str) -> dict:
    try:
        return _check(client.get(f"/v1/agents/{uuid.UUID(name_or_id)}"))
    except ValueError:
        pass
    agents = [a for a in _check(client.get("/v1/agents", params={"limit": 100}))["data"] if a["name"] == name_or_id]
    if len(agents) != 1:
        raise SystemExit(f"renum: {'no' if not agents else 'several'} agents named {name_or_id!r}; use its id")
    return agents[0]


def _stream(client: httpx.Client, path: str, content: str, out) -> dict:
    done: dict = {}
    with client.stream("POST", path, json={"content": content, "stream": True}) as resp:
        if not resp.is_success:
            resp.read()
            _check(resp)
        event = "message"
        for line in resp.iter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data = json.loads(line[5:].strip())
                if event == "delta":
                    out.write(data["content"])
                    out.flush()
                elif event == "citations" and data["citations"]:
                    sources = ", ".join(f"[{c['rank']}] {c.get('document_title') or c['kind']}" for c in data["citations"])
                    out.write(f"\n  sources: {sources}")
                elif event == "error":
                    out.write(f"\n  error: {data['message']}")
                elif event == "done":
                    done = data
    out.write("\n")
    return done


def chat(args: argparse.Namespace, stdin=None, out=None) -> int:
    stdin, out = stdin or sys.stdin, out or sys.stdout
    with _client() as client:
        agent = _agent(client, args.agent)
        conversation = _check(client.post(f"/v1/agents/{agent['id']}/conversations",
                                          json={"contact_external_id": args.contact, "channel": "cli"}))
        path = f"/v1/agents/{agent['id']}/conversations/{conversation['id']}/messages"
        out.write(f"chatting with {agent['name']} ({agent['model']}) as {args.contact}; empty line or Ctrl+D ends\n")
        for message in ([args.message] if args.message else iter(lambda: (out.write("> "), out.flush(), stdin.readline())[2], "")):
            message = message.strip()
            if not message:
                break
            _stream(client, path, message, out)
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("ingest", help="upload a folder's documents to a knowledge base and wait until indexed")
    p.add_argument("dir")
    p.add_argument("--kb", required=True, help="knowledge base name (created if new)")
    p.add_argument("--timeout", type=float, default=900, help="seconds to wait for indexing")
    p = sub.add_parser("chat", help="chat with an agent in the terminal")
    p.add_argument("agent", help="agent name or id")
    p.add_argument("--contact", default="cli", help="the customer's external id (memory is per contact)")
    p.add_argument("-m", "--message", help="send one message and exit")


COMMANDS = {"ingest": ingest, "chat": chat}
