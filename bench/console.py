"""Console pages' server time with a large organization (target: p95 < 300 ms per page).

    python -m bench.console [--conversations 10000] [--iterations 40] [--out FILE]

The console is a static shell plus calls to the public API, so a page's server time is the
time of the API calls it makes (listed in PAGES, the same calls the page's module issues).
The real API runs in a uvicorn subprocess on the bench stack (bench/stack.py) against an
organization seeded in bulk with SQL: --conversations conversations over 3 agents and 2,000
contacts, 4 messages each, a usage event per answer spread over 30 days, 60 memories for the
contact the contact page opens, another organization of the same size (RLS must skip it), and
a knowledge base with 50 documents. Each page is loaded --iterations times after a warm-up;
its time is the sum of its calls (the browser makes some of them in parallel) (each timed at the client over loopback, an upper bound of
server time), reported as p50/p95, with every endpoint's own p95.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import sys
import time
import uuid
from datetime import date, timedelta

import httpx
import numpy as np
import psycopg

from bench.chat_overhead import start_api
from bench.metrics import latency_summary

TARGET_P95_MS = 300.0

# page -> calls; {agent}, {kb}, {conversation}, {contact}, {org}, {start}, {end} are filled in.
PAGES: dict[str, list[str]] = {
    "shell": ["/console", "/v1/organizations"],
    "agents": ["/v1/agents?limit=100", "/v1/knowledge-bases?limit=100"],
    "knowledge-base": ["/v1/knowledge-bases/{kb}", "/v1/knowledge-bases/{kb}/documents?limit=100"],
    "playground": ["/v1/agents?limit=100", "/v1/conversations/{conversation}/messages?limit=100",
                   "/v1/contacts/{contact}/memories?kind=fact&limit=50",
                   "/v1/contacts/{contact}/memories?kind=summary&limit=10"],
    "conversations": ["/v1/agents?limit=100", "/v1/agents/{agent}/conversations?limit=25",
                      "/v1/conversations/{conversation}/messages?limit=100"],
    "contacts": ["/v1/contacts?limit=50"],
    "contact": ["/v1/contacts/{contact}", "/v1/contacts/{contact}/memories?limit=100&include_superseded=false"],
    "analytics": ["/v1/analytics/usage?start={start}&end={end}&timezone=America/Sao_Paulo",
                  "/v1/analytics/performance?start={start}&end={end}&timezone=America/Sao_Paulo"],
    # The same reports recomputed (the console's Apply button; other visits within a minute are cached).
    "analytics-fresh": ["/v1/analytics/usage?start={start}&end={end}&timezone=America/Sao_Paulo&fresh=true",
                        "/v1/analytics/performance?start={start}&end={end}&timezone=America/Sao_Paulo&fresh=true"],
    "settings": ["/v1/api-keys?limit=100", "/v1/organizations/{org}/members?limit=100", "/v1/webhooks?limit=100",
                 "/v1/channel-integrations?limit=100", "/v1/agents?limit=100"],
    "status": ["/v1/models", "/v1/agents?limit=100"],
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed_org(admin: psycopg.Connection, user_id: uuid.UUID, n_conversations: int, rng: np.random.Generator) -> dict:
    """One organization with agents, contacts, conversations, messages, usage and memories."""
    org = admin.execute("insert into public.organizations (name, slug, created_by) values ('Bench', %s, %s) returning id",
                        [f"b-{uuid.uuid4().hex[:12]}", user_id]).fetchone()[0]
    # (a trigger makes the creator its owner)
    kb = admin.execute("insert into public.knowledge_bases (organization_id, name) values (%s, 'Docs') returning id",
                       [org]).fetchone()[0]
    admin.execute("""
        insert into public.documents (organization_id, knowledge_base_id, title, content_type, size_bytes, sha256,
                                      status, progress, chunk_count)
        select %s, %s, 'doc ' || g, 'text/plain', 1000, md5(g::text), 'ready', 1, 3 from generate_series(1, 50) g""",
                  [org, kb])
    agents = [admin.execute("insert into public.agents (organization_id, name, model) values (%s, %s, 'renum-local') "
                            "returning id", [org, f"Agent {i}"]).fetchone()[0] for i in range(3)]
    admin.execute("""
        insert into public.contacts (organization_id, external_id, name)
        select %s, 'c-' || g, 'Cliente ' || g from generate_series(1, 2000) g""", [org])
    # Conversations spread over 30 days; 4 messages each; one usage event per answer.
    admin.execute("""
        insert into public.conversations (organization_id, agent_id, contact_id, channel, created_at, last_message_at)
        select %(org)s, (%(agents)s::uuid[])[1 + g %% 3], c.id, 'api', t, t
          from generate_series(1, %(n)s) g
          join lateral (select id from public.contacts where organization_id = %(org)s
                         and external_id = 'c-' || (1 + g %% 2000)) c on true
          cross join lateral (select now() - (g %% 30) * interval '1 day' - (g %% 1440) * interval '1 minute' as t) x""",
                  {"org": org, "agents": agents, "n": n_conversations})
    admin.execute("""
        insert into public.conversation_history (organization_id, conversation_id, contact_id, role, content, created_at)
        select c.organization_id, c.id, c.contact_id, case when k %% 2 = 1 then 'user' else 'assistant' end,
               'mensagem ' || k || ' sobre entrega e prazo', c.created_at + k * interval '10 seconds'
          from public.conversations c cross join generate_series(1, 4) k where c.organization_id = %s""", [org])
    admin.execute("""
        insert into public.usage_events (organization_id, kind, model, prompt_tokens, completion_tokens, latency_ms,
                                         agent_id, conversation_id, message_id, metadata, created_at, user_id)
        select h.organization_id, 'chat', 'renum-local', 400, 40, 200 + (random() * 3000)::int, c.agent_id, c.id, h.id,
               jsonb_build_object('first_token_ms', 50 + (random() * 500)::int), h.created_at, null
          from public.conversation_history h join public.conversations c on c.id = h.conversation_id
         where h.organization_id = %s and h.role = 'assistant'""", [org])
    contact = admin.execute("select id from public.contacts where organization_id = %s and external_id = 'c-1'",
                            [org]).fetchone()[0]
    vecs = rng.standard_normal((60, 384)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    for i, vec in enumerate(vecs):
        kind = ("fact", "summary", "turn")[i % 3]
        admin.execute("insert into public.memories (organization_id, contact_id, agent_id, kind, key, content, embedding, "
                      "embedding_dim) values (%s, %s, %s, %s, %s, %s, %s, 384)",
                      [org, contact, agents[0], kind, f"k{i}" if kind == "fact" else None, f"memória {i}",
                       "[" + ",".join(f"{x:.5f}" for x in vec) + "]"])
    conversation = admin.execute("select id from public.conversations where contact_id = %s limit 1",
                                 [contact]).fetchone()[0]
    return {"org": str(org), "kb": str(kb), "agent": str(agents[0]), "contact": str(contact),
            "conversation": str(conversation)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument("--out")
    args = parser.parse_args()
    from bench import stack as bench_stack
    stack = bench_stack.start("renum_bench_console")
    from api.core.auth import mint_dev_token
    from api.core.config import get_settings
    rng = np.random.default_rng(7)
    started = time.perf_counter()
    with psycopg.connect(stack.admin_url, autocommit=True) as admin:
        user_id = uuid.uuid4()
        admin.execute("insert into auth.users (id, email) values (%s, %s)", [user_id, f"{user_id}@bench"])
        ids = seed_org(admin, user_id, args.conversations, rng)
        other = uuid.uuid4()
        admin.execute("insert into auth.users (id, email) values (%s, %s)", [other, f"{other}@bench"])
        seed_org(admin, other, args.conversations, rng)  # a neighbour the queries must skip
        admin.execute("analyze")
        counts = admin.execute("select (select count(*) from public.conversations where organization_id = %s), "
                               "(select count(*) from public.conversation_history where organization_id = %s), "
                               "(select count(*) from public.usage_events where organization_id = %s)",
                               [ids["org"], ids["org"], ids["org"]]).fetchone()
    seed_s = time.perf_counter() - started
    today = date.today()
    ids.update(start=(today - timedelta(days=29)).isoformat(), end=today.isoformat())
    port = _free_port()
    env = dict(os.environ, RENUM_RATE_LIMIT_PER_MINUTE="1000000", RENUM_ORG_RATE_LIMIT_PER_MINUTE="1000000",
               LITELLM_LOCAL_MODEL_COST_MAP="True")
    api = start_api(env, port)
    headers = {"Authorization": f"Bearer {mint_dev_token(user_id, get_settings())}", "X-Organization-Id": ids["org"]}
    per_page: dict[str, list[float]] = {p: [] for p in PAGES}
    per_call: dict[str, list[float]] = {}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30) as http:
            for iteration in range(args.iterations + 3):  # 3 warm-up rounds
                for page, calls in PAGES.items():
                    total = 0.0
                    for template in calls:
                        url = template.format(**ids)
                        t0 = time.perf_counter()
                        resp = http.get(url)
                        ms = (time.perf_counter() - t0) * 1000
                        resp.raise_for_status()
                        total += ms
                        if iteration >= 3:
                            per_call.setdefault(template, []).append(ms)
                    if iteration >= 3:
                        per_page[page].append(total)
            usage = http.get(PAGES["analytics"][0].format(**ids)).json()
    finally:
        api.terminate()
        api.wait(10)
    pages = {p: latency_summary(v) for p, v in per_page.items()}
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": platform.machine(),
        "cpus": os.cpu_count(), "load": os.getloadavg(), "seed_s": round(seed_s, 1),
        "org": {"conversations": counts[0], "messages": counts[1], "usage_events": counts[2],
                "analytics_messages_30d": usage["totals"]["messages"]},
        "iterations": args.iterations, "target_p95_ms": TARGET_P95_MS, "pages": pages,
        "worst_page_p95_ms": max(s["p95"] for s in pages.values()),
        "calls_p95_ms": {c: latency_summary(v)["p95"] for c, v in per_call.items()},
    }
    result["meets_target"] = result["worst_page_p95_ms"] < TARGET_P95_MS
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text)
    sys.exit(0 if result["meets_target"] else 1)


if __name__ == "__main__":
    main()
