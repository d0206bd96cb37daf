"""Answer quality end to end with the local model: does the customer get a right answer?

    python -m bench.answers [--model qwen1.5b] [--parts helpcenter,facts,latency,locomo]
                            [--limit N] [--locomo-questions 200] [--locomo-conversations 2] [--out FILE]

Everything goes through the real code on the benchmark's own embedded Postgres + Redis
(.renum/bench-answers, ports RENUM_BENCH_ANSWERS_PG_PORT / _REDIS_PORT): documents through the
ingest pipeline, questions through the chat service (`api.chat.service.begin` + `stream`, the
code behind POST .../messages), facts through the memory worker's task bodies.

- helpcenter: bench/data_answers/{passages,questions}_pt.json (a fictional Brazilian shoe store,
  written for this benchmark; `--language en`: the *_en.json files, a fictional US home-electronics
  store, written before anything was measured in English). Each question is asked in a new conversation of an agent with the
  knowledge base and of one without. Scored by gold-contained (and not a "não sei") and token
  F1; unanswerable questions by the share of replies that say they do not know.
- locomo: LoCoMo QA (categories 1-4, stratified) asked as the conversation's contact with the
  last N turns of its last session as history, memory on vs off. Token F1 as in the LoCoMo
  paper, plus contained rate. LoCoMo is CC BY-NC 4.0: read from shared/datasets, never stored.
- facts: bench/data_answers/fact_dialogues_pt.json (or `--facts-set heldout`: fact_dialogues_heldout.json,
  written before tuning and never tuned on), through api.memory.jobs.extract_facts:
  precision/recall of extracted facts; then the address supersession dialogue pair.
- latency: first token and full answer p50/p95 (from the help-center run with knowledge), the
  first-token time by prompt size (a cold prompt each time), and a follow-up turn that reuses
  llama.cpp's prefix cache.
Confidence intervals: 95 % percentile bootstrap over questions.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from bench import DATASETS_DIR
from bench.answer_metrics import bootstrap_diff_ci, normalize, score, summary
from bench.metrics import latency_summary

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data_answers"
BENCH_DIR = Path(os.environ.get("RENUM_BENCH_ANSWERS_DIR", ROOT / ".renum" / "bench-answers"))
PG_PORT = int(os.environ.get("RENUM_BENCH_ANSWERS_PG_PORT", "15436"))
REDIS_PORT = int(os.environ.get("RENUM_BENCH_ANSWERS_REDIS_PORT", "16383"))
LOCOMO_PATH = DATASETS_DIR / "locomo" / "locomo10.json"
LAST_N_TURNS = 8
# `--locomo-answer short`: LoCoMo's own QA protocol asks the model for a short phrase in the
# context's words (its F1 falls with every extra word); given to both arms as an API client's
# system message would be (the agent's instructions). Written once from the paper's protocol, not tuned.
LOCOMO_SHORT = ("Answer with a short phrase only (a few words, not a full sentence), using the exact words "
                "of the conversation or of what you remember where possible.")
MAX_TOKENS = 200
# The shipped infra/litellm.yaml gives the local model 120 s per answer; on a shared, loaded
# 2-core machine a benchmark answer can take longer, and a timeout would score as a wrong answer.
_BENCH_LITELLM = """
model_list:
  - {model_name: renum-local, litellm_params: {model: renum-llamacpp/default, timeout: 900, stream_timeout: 900}}
router_settings: {num_retries: 0, disable_cooldowns: true}
"""


# --language: the help-center data of each language (bench/data_answers/*_{pt,en}.json): a fictional
# Brazilian shoe store in Portuguese, a fictional US home-electronics store in English (written before
# anything was measured in English); the knowledge base's text configuration follows. entune: a
# second English help center (a Colorado sporting-goods chain, knowledge agent only), written to tune
# on for the English prompts, so that the first English set stays held out.
KB_LANGUAGE = {"pt": "portuguese", "en": "english", "entune": "english"}


def _data(name: str, language: str) -> dict:
    return json.loads((DATA / f"{name}_{language}.json").read_text())


def log(*args) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}]", *args, flush=True)


def start_stack(model: str) -> tuple[str, str, str]:
    """(admin_url, app_url, redis_url); the environment is set before settings are read."""
    from infra import migrate, services
    os.environ["RENUM_LOCAL_MODEL"] = model
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    (BENCH_DIR / "litellm.yaml").write_text(_BENCH_LITELLM)
    os.environ["RENUM_LITELLM_CONFIG"] = str(BENCH_DIR / "litellm.yaml")
    pg = services.start_postgres(BENCH_DIR, PG_PORT)
    admin_url = services.ensure_database(pg, "renum_bench_answers", recreate=True)
    migrate.migrate(admin_url, shim=True)
    redis_url = services.start_redis(BENCH_DIR, REDIS_PORT)
    app_url = pg.url("renum_bench_answers", user="renum_app")
    os.environ.update(DATABASE_URL=app_url, REDIS_URL=redis_url, MIGRATION_DATABASE_URL=admin_url,
                      LITELLM_LOCAL_MODEL_COST_MAP="True", RENUM_ENV="dev")
    from api.core.config import get_settings
    get_settings.cache_clear()
    return admin_url, app_url, redis_url


def stop_stack() -> None:
    from infra import services
    services.stop_redis(BENCH_DIR)
    services.stop_postgres(BENCH_DIR)


# --- arranging data (superuser for the organization, RLS for the rest) -------------------------

def _org(admin_url: str, slug: str, name: str = "Passo Leve Calçados") -> uuid.UUID:
    import psycopg
    with psycopg.connect(admin_url, autocommit=True) as conn:
        return conn.execute("insert into public.organizations (name, slug) values (%s, %s) "
                            "returning id", [name, slug]).fetchone()[0]


def _agent(conn, org_id, name: str, kb_ids: list, settings: dict | None = None) -> uuid.UUID:
    from psycopg.types.json import Jsonb
    # Deterministic answers (temperature 0), capped at MAX_TOKENS: a customer answer is short, and
    # a small model that rambles to the 512-token default is wrong anyway.
    return conn.execute("insert into public.agents (organization_id, name, model, knowledge_base_ids, temperature, "
                        "max_tokens, settings) values (%s, %s, 'renum-local', %s, 0, %s, %s) returning id",
                        [org_id, name, kb_ids, MAX_TOKENS, Jsonb(settings or {})]).fetchone()["id"]


# --answer-check: the agent's settings. observe: the check runs and is recorded but never refuses
# (threshold -50), so one run gives the answers without the check and, from the recorded margins,
# what any threshold would have done to the same answers (the check does not change what the
# model generates afterwards: tests/test_answer_check.py).
ANSWER_CHECK = {"on": {}, "off": {"answer_check": False}, "observe": {"answer_check_threshold": -50}}


def _with_threshold(rows: list[dict], threshold: float) -> list[dict]:
    """The rows as they would be had the check refused below `threshold` (observe runs)."""
    from api.chat import grounding
    out = []
    for r in rows:
        margin = (r.get("answer_check") or {}).get("margin")
        if margin is not None and margin < threshold:
            text = grounding.not_found_text(r["question"])
            r = r | {"answer": text} | score(text, r["gold"] if isinstance(r["gold"], list) else [r["gold"]])
        out.append(r)
    return out


def _auc_of(pos: list[float], neg: list[float]) -> float | None:
    """How often a margin of `pos` is above one of `neg` (ties count half); None without both."""
    if not pos or not neg:
        return None
    return round(sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg) / (len(pos) * len(neg)), 3)


def _auc(rows: list[dict]) -> dict:
    """How well the check's margin ranks answerable questions above unanswerable ones, over all of
    them and per part (memory questions, the others); small talk left out."""
    def margins(sel) -> list[float]:
        return [r["answer_check"]["margin"] for r in sel if (r.get("answer_check") or {}).get("margin") is not None]

    judged = [r for r in rows if not r.get("social")]
    pos, neg = [r for r in judged if r["answerable"]], [r for r in judged if not r["answerable"]]
    return {"all": _auc_of(margins(pos), margins(neg)),
            "memory_questions": _auc_of(margins([r for r in pos if r.get("memory_question")]), margins(neg)),
            "other_answerable": _auc_of(margins([r for r in pos if not r.get("memory_question")]), margins(neg))}


def _check_report(rows: list[dict], thresholds: list[float]) -> dict:
    """Per threshold: answerable contained, refusals of answerable and unanswerable questions, and
    the paired change in contained against no check (observe runs, knowledge agent)."""
    report = {"auc": _auc(rows)}
    base = {r["id"]: float(r["contained"]) for r in rows if r["answerable"]}
    for t in thresholds:
        applied = _with_threshold(rows, t)
        ans = [r for r in applied if r["answerable"]]
        unk = [r for r in applied if not r["answerable"] and not r.get("social")]
        chat = [r for r in applied if r.get("social")]
        mean, low, high = bootstrap_diff_ci([float(r["contained"]) for r in ans], [base[r["id"]] for r in ans])
        report[f"{t:+.2f}"] = {
            "contained": summary([float(r["contained"]) for r in ans]),
            "contained_minus_no_check": {"mean": round(mean, 3), "ci95": [round(low, 3), round(high, 3)]},
            "refused_answerable": sum(r["refused"] for r in ans),
            "refused_memory_questions": sum(r["refused"] for r in ans if r.get("memory_question")),
            "says_unknown": f"{sum(r['refused'] for r in unk)} of {len(unk)}",
            "says_unknown_heldout": f"{sum(r['refused'] for r in unk if r['heldout'])} of "
                                    f"{sum(1 for r in unk if r['heldout'])}"}
        if chat:  # messages that ask nothing: "não encontrei" is wrong for every one of them
            report[f"{t:+.2f}"]["social_not_found"] = {
                part: f"{sum(r['refused'] for r in mine)} of {len(mine)}"
                for part, mine in (("tuning", [r for r in chat if not r["heldout"]]),
                                   ("heldout", [r for r in chat if r["heldout"]]))}
    return report


def _conversation(conn, org_id, agent_id, contact_id) -> uuid.UUID:
    return conn.execute("insert into public.conversations (organization_id, agent_id, contact_id, channel) "
                        "values (%s, %s, %s, 'bench') returning id", [org_id, agent_id, contact_id]).fetchone()["id"]


def _contact(conn, org_id, external_id: str, name: str | None = None) -> uuid.UUID:
    return conn.execute("insert into public.contacts (organization_id, external_id, name) values (%s, %s, %s) "
                        "returning id", [org_id, external_id, name]).fetchone()["id"]


# --- asking through the chat service -----------------------------------------------------------

async def ask(tx, redis, agent_id, conversation_id, question: str, *, memory: bool,
              turns: list[dict] | None = None, instructions: str | None = None) -> dict:
    """One customer message through api.chat.service (streamed); the reply and its timings.
    `instructions`: extra instructions for this message, as an OpenAI API client's system message."""
    from api.chat import service as chat
    from api.chat.turn import Delta, Done, Failed
    started = time.perf_counter()
    turn = await chat.begin(tx, redis, agent_id, conversation_id, question, memory=memory, turns=turns,
                            instructions=instructions)
    first, text, failed, check = None, [], None, None
    async for event in chat.stream(turn):
        if isinstance(event, Delta):
            first = first or time.perf_counter()
            text.append(event.text)
        elif isinstance(event, Failed):
            failed = f"{event.code}: {event.message}"
        elif isinstance(event, Done):
            text = [event.reply.message["content"]]
            check = (event.reply.message.get("metadata") or {}).get("answer_check")
    done = time.perf_counter()
    shown = [src for src, _ in (turn.prompt.sources if turn.prompt else ()) if src.kind == "chunk"]
    return {"answer": "".join(text), "error": failed, "answer_check": check,
            "excerpts": [src.title for src in shown], "excerpt_scores": [round(src.score, 3) for src in shown],
            "prompt_tokens": turn.prompt.tokens if turn.prompt else 0,
            "first_token_ms": round(((first or done) - started) * 1000), "total_ms": round((done - started) * 1000),
            "context_ms": turn.context_ms}


async def _session(app_url: str, redis_url: str, org_id):
    from redis.asyncio import Redis

    from api.chat.transactions import Transactions
    from api.core.db import async_pool
    from api.core.principal import org_principal
    pool = async_pool(app_url, min_size=1, max_size=2)
    await pool.open(wait=True)
    return pool, Redis.from_url(redis_url), Transactions(pool, org_principal(org_id, "admin", kind="api_key"), org_id)


# --- help center --------------------------------------------------------------------------------

def _remember(pool, principal, org_id, agent_id, contact_id, language: str = "pt") -> list[str]:
    """The returning customer's history (memory_questions_<language>.json "history": fact dialogues), stored
    as past conversations and run through the memory worker's jobs (turns, facts, summary), as the
    worker does after a conversation goes quiet. Returns the dialogue ids stored."""
    from api.core.db import sync_unit_of_work
    from api.memory import jobs as memory_jobs
    spec = _data("memory_questions", language)
    dialogues = {d["id"]: d for d in _data("fact_dialogues", language)["dialogues"]}
    for days_ago, dialogue_id in zip((60, 30, 10), spec["history"], strict=True):
        with sync_unit_of_work(pool, principal) as s:
            conv = _conversation(s.conn, org_id, agent_id, contact_id)
            for i, t in enumerate(dialogues[dialogue_id]["turns"]):
                s.conn.execute("insert into public.conversation_history (organization_id, conversation_id, contact_id, "
                               "role, content, created_at) values (%s, %s, %s, %s, %s, now() - make_interval("
                               "days => %s) + make_interval(secs => %s))",
                               [org_id, conv, contact_id, t["role"], t["content"], days_ago, i])
        memory_jobs.index_turns(str(org_id), str(conv))
        memory_jobs.extract_facts(str(org_id), str(conv))
        memory_jobs.summarize(str(org_id), str(conv))
    return spec["history"]


def _instruction_questions(company: dict, helpcenter_questions: list[dict], remembered: list[dict]) -> list[dict]:
    """An instructions set's questions: its own and the help-center ones it answers (answerable),
    the help-center questions of its share that it does not answer and its extra u/n ones
    (unanswerable), and, for a returning customer, its questions about their history."""
    by_id = {q["id"]: q for q in helpcenter_questions}
    heldout = company["heldout"]
    out = [q | {"passage": None, "answerable": True, "heldout": heldout} for q in company["questions"]]
    out += [by_id[i] | {"answerable": True, "heldout": heldout} for i in company["answers"]]
    share = company["unanswerable"]
    out += [q | {"passage": None, "answerable": False, "heldout": heldout} for q in helpcenter_questions
            if q["passage"] and int(q["id"][1:]) % 3 == share["mod3"] and q["id"] not in company["answers"]]
    out += [by_id[i] | {"answerable": False, "heldout": heldout} for i in share["extra"]]
    wanted = set(company["memory_questions"])
    out += [q | {"passage": None, "memory": True, "heldout": heldout} for q in remembered if q["id"] in wanted]
    return out


def helpcenter(admin_url: str, app_url: str, redis_url: str, limit: int | None,
               modes: tuple[str, ...] = ("kb", "no_kb"), ids: list[str] | None = None,
               answer_check: str = "on", returning: bool = False, social: bool = False,
               instructions: str | None = None, language: str = "pt") -> dict:
    """`language`: the data set (KB_LANGUAGE). `returning`: every question comes from a customer with three past conversations in memory
    (and memory on), plus the questions about that history (memory_questions_pt.json).
    `instructions` ("A" tuning, "B" held out; instructions_pt.json): an agent without a knowledge
    base that is told some of the company's facts, asked what they answer and what they do not.
    `social`: also the messages that ask nothing (social_messages.json: greetings, thanks, details
    given when asked), each after its own earlier turns; scored by how many get "não encontrei"."""
    from api.core.db import sync_pool, sync_unit_of_work
    from api.core.principal import org_principal
    from bench import ingest as kb_ingest
    from bench import repository

    help_center = _data("passages", language)
    passages = help_center["passages"]
    questions = _data("questions", language)["questions"]
    remembered = _data("memory_questions", language)["questions"] if returning or instructions else []
    company = None
    if instructions:  # an agent without a knowledge base, told the company's facts (instructions_<language>.json)
        company = next(s for s in _data("instructions", language)["sets"] if s["id"] == instructions)
        modes = ("no_kb",)
        questions = _instruction_questions(company, questions, remembered if returning else [])
    elif returning:
        questions += [q | {"passage": None, "memory": True} for q in remembered if q["id"] <= "m10"]
    if ids:
        questions = [q for q in questions if q["id"] in ids]
    elif limit:  # spread over the whole set (every k-th question), plus a few unanswerable ones
        answerable = [q for q in questions if q["passage"]]
        answerable = answerable[::max(1, len(answerable) // limit)][:limit]
        questions = answerable + [q for q in questions if not q["passage"]][:max(2, limit // 8)]
    if social:
        questions += [{"id": m["id"], "question": m["message"], "turns": m["turns"], "passage": None, "gold": [],
                       "social": True, "heldout": m["heldout"]}
                      for m in json.loads((DATA / "social_messages.json").read_text())["messages"]]
    by_title = {p["title"]: p["id"] for p in passages}
    org_id = _org(admin_url, f"help-center-{language}", help_center["business"])
    principal = org_principal(org_id, "admin", kind="worker")
    pool = sync_pool(app_url, max_size=2)
    pool.open(wait=True)
    try:
        with sync_unit_of_work(pool, principal) as s:
            kb = repository.create_kb(s.conn, org_id, "Central de ajuda", KB_LANGUAGE[language])
        stats = kb_ingest.ingest(pool, principal, kb, {p["id"]: {"title": p["title"], "text": p["text"]}
                                                       for p in passages})
        log(f"help center ingested: {stats.report()}")
        with sync_unit_of_work(pool, principal) as s:
            agents = {mode: _agent(s.conn, org_id, "Léo", [kb["id"]] if mode == "kb" else [],
                                   ANSWER_CHECK[answer_check]) for mode in modes}
            contact = _contact(s.conn, org_id, "5531999990000")
            convs = {(q["id"], mode): _conversation(s.conn, org_id, agents[mode], contact)
                     for q in questions for mode in agents}
        history = (_remember(pool, principal, org_id, next(iter(agents.values())), contact, language)
                   if returning else [])
        if history:
            log(f"returning customer: history {history} stored and run through the memory jobs")
    finally:
        pool.close()

    async def run() -> list[dict]:
        apool, redis, tx = await _session(app_url, redis_url, org_id)
        rows = []
        try:
            for i, q in enumerate(questions, 1):
                for mode, agent_id in agents.items():
                    r = await ask(tx, redis, agent_id, convs[(q["id"], mode)], q["question"], memory=returning,
                                  turns=q.get("turns"), instructions=company["instructions"] if company else None)
                    r["excerpts"] = [by_title.get(t, t) for t in r["excerpts"]]
                    r |= {"id": q["id"], "mode": mode, "question": q["question"], "gold": q["gold"],
                          "passage": q["passage"],
                          "answerable": q.get("answerable", bool(q["passage"] or q.get("memory"))),
                          "memory_question": bool(q.get("memory")),
                          "social": bool(q.get("social")),
                          "heldout": bool(q.get("heldout"))} \
                        | score(r["answer"], q["gold"])
                    rows.append(r)
                log(f"help center {i}/{len(questions)} {q['id']}: "
                    + " | ".join(f"{r['mode']} {r['total_ms']}ms {'OK' if r['contained'] else '--'} "
                                 f"{r['answer'][:90]!r}" for r in rows[-len(agents):]))
        finally:
            await redis.aclose()
            await apool.close()
        return rows

    rows = asyncio.run(run())
    out: dict = {"language": language, "passages": len(passages), "questions": len({r["id"] for r in rows}),
                 "modes": {}}
    for mode in agents:
        everything = [r for r in rows if r["mode"] == mode]
        mine = [r for r in everything if not r["social"]]
        ans = [r for r in mine if r["answerable"]]
        unk = [r for r in mine if not r["answerable"]]
        out["modes"][mode] = {
            "answerable": len(ans), "contained": summary([float(r["contained"]) for r in ans]),
            "token_f1": summary([r["f1"] for r in ans]),
            "refused_answerable": round(sum(r["refused"] for r in ans) / max(1, len(ans)), 3),
            "unanswerable": len(unk), "says_unknown_when_unanswerable": summary([float(r["refused"]) for r in unk]),
            # n01-n16: written before refusals were tuned, never tuned on.
            "says_unknown_heldout": summary([float(r["refused"]) for r in unk if r["heldout"]]),
            "errors": sum(1 for r in mine if r["error"]),
            "prompt_tokens": latency_summary([r["prompt_tokens"] for r in mine]),
            "first_token_ms": latency_summary([r["first_token_ms"] for r in mine]),
            "total_ms": latency_summary([r["total_ms"] for r in mine]),
            "answer_words": latency_summary([len(r["answer"].split()) for r in mine])}
        if chat := [r for r in everything if r["social"]]:
            out["modes"][mode]["social"] = {
                part: {"messages": len(sel), "not_found": sum(r["refused"] for r in sel),
                       "checked": sum(1 for r in sel if r.get("answer_check"))}
                for part, sel in (("tuning", [r for r in chat if not r["heldout"]]),
                                  ("heldout", [r for r in chat if r["heldout"]]))}
    if set(agents) == {"kb", "no_kb"}:
        kb_rows = {r["id"]: r for r in rows if r["mode"] == "kb" and r["answerable"]}
        no_rows = {r["id"]: r for r in rows if r["mode"] == "no_kb" and r["answerable"]}
        ids = sorted(kb_rows)
        mean, low, high = bootstrap_diff_ci([float(kb_rows[i]["contained"]) for i in ids],
                                            [float(no_rows[i]["contained"]) for i in ids])
        out["kb_minus_no_kb_contained"] = {"mean": round(mean, 3), "ci95": [round(low, 3), round(high, 3)]}
    if answer_check == "observe":
        from api.chat import grounding
        from api.llm.llama_engine import get_engine
        judged = "kb" if "kb" in agents else "no_kb"
        mine = [r for r in rows if r["mode"] == judged]
        kind = {"kb": "knowledge+memory" if returning else "knowledge"}.get(
            judged, "memory" if returning else "instructions")
        # The customers' language: "entune" is English.
        measured = grounding.threshold_for(get_engine().name, {}, kind=kind, language=language[:2])
        grid = sorted({-1.0, -0.5, 0.0, 0.4, 0.6, 0.7, 0.8, 1.0, 1.2, 1.5}
                      | ({measured} if measured is not None else set()))
        out["answer_check"] = {"mode": judged, "kind": kind, "model_threshold": measured,
                               "kinds_asked": {k: sum(1 for r in mine if (r["answer_check"] or {}).get("kind") == k)
                                               for k in ("knowledge", "knowledge+memory", "instructions", "memory")},
                               "by_threshold": _check_report(mine, grid)}
    out["rows"] = rows
    return out


# --- LoCoMo --------------------------------------------------------------------------------------

def _stratified(conversations, per_category: int, seed: int = 13) -> list[tuple]:
    rng = random.Random(seed)
    by_cat: dict[int, list] = {}
    for conv in conversations:
        for qa in conv.qa:
            if qa.category in (1, 2, 3, 4) and qa.answer:
                by_cat.setdefault(qa.category, []).append((conv, qa))
    picked = []
    for cat in sorted(by_cat):
        items = by_cat[cat]
        rng.shuffle(items)
        picked += items[:per_category]
    return picked


def _adversarial(conversations, n: int, seed: int = 13) -> list[tuple]:
    """LoCoMo's category 5: questions the conversation does not answer (most name the wrong person
    for something that did happen); the right reply says it does not know."""
    items = [(conv, qa) for conv in conversations for qa in conv.qa if qa.category == 5]
    random.Random(seed).shuffle(items)
    return items[:n]


def locomo(admin_url: str, app_url: str, redis_url: str, n_questions: int, n_conversations: int,
           answer: str = "product", answer_check: str = "on", adversarial: int = 0,
           arms: tuple[str, ...] = ("memory", "last_n")) -> dict:
    """`adversarial`: also that many category-5 questions, asked with memory only (not scored by F1:
    counted as said-unknown or not). `answer_check`: the agent's settings, as for the help center."""
    from psycopg.types.json import Jsonb

    from bench.locomo_data import CATEGORY_NAMES, load_locomo
    from bench.memory_ingest import ingest

    conversations = load_locomo(LOCOMO_PATH)[:n_conversations]
    loaded = ingest(admin_url, app_url, redis_url, conversations, log=log)
    picked = _stratified(conversations, max(1, n_questions // 4))
    unanswerable = _adversarial(conversations, adversarial)
    from api.core.db import sync_pool, sync_unit_of_work
    from api.core.principal import org_principal
    pool = sync_pool(app_url, max_size=2)
    pool.open(wait=True)
    try:
        with sync_unit_of_work(pool, org_principal(loaded.org_id, "admin", kind="worker")) as s:
            s.conn.execute("update public.agents set temperature = 0, max_tokens = %s, settings = %s where id = %s",
                           [MAX_TOKENS, Jsonb(ANSWER_CHECK[answer_check]), loaded.agent_id])
            convs = {(i, mode): _conversation(s.conn, loaded.org_id, loaded.agent_id, loaded.contacts[conv.id])
                     for i, (conv, _) in enumerate(picked) for mode in ("memory", "last_n")}
            convs |= {(len(picked) + i, "memory"): _conversation(s.conn, loaded.org_id, loaded.agent_id,
                                                                 loaded.contacts[conv.id])
                      for i, (conv, _) in enumerate(unanswerable)}
    finally:
        pool.close()

    def last_turns(conv) -> list[dict]:
        turns = conv.sessions[-1].turns[-LAST_N_TURNS:]
        return [{"role": "user" if t.speaker == conv.speakers[0] else "assistant", "content": t.full_text}
                for t in turns]

    instructions = LOCOMO_SHORT if answer == "short" else None

    async def run() -> list[dict]:
        apool, redis, tx = await _session(app_url, redis_url, loaded.org_id)
        rows = []
        try:
            for i, (conv, qa) in enumerate(picked):
                for mode in arms:
                    r = await ask(tx, redis, loaded.agent_id, convs[(i, mode)], qa.question,
                                  memory=mode == "memory", turns=last_turns(conv), instructions=instructions)
                    r |= {"mode": mode, "category": CATEGORY_NAMES[qa.category], "question": qa.question,
                          "gold": qa.answer} | score(r["answer"], [qa.answer])
                    rows.append(r)
                log(f"locomo {i + 1}/{len(picked)}: " + " | ".join(
                    f"{r['mode']} f1={r['f1']:.2f} {r['answer'][:60]!r}" for r in rows[-len(arms):])
                    + f" gold={qa.answer!r}")
            for i, (conv, qa) in enumerate(unanswerable, len(picked)):
                r = await ask(tx, redis, loaded.agent_id, convs[(i, "memory")], qa.question, memory=True,
                              turns=last_turns(conv), instructions=instructions)
                r |= {"mode": "adversarial", "category": "adversarial", "question": qa.question, "gold": ""} \
                    | score(r["answer"], [qa.adversarial_answer or ""])
                rows.append(r)
                log(f"locomo adversarial {i + 1 - len(picked)}/{len(unanswerable)}: refused={r['refused']} "
                    f"{r['answer'][:80]!r}")
        finally:
            await redis.aclose()
            await apool.close()
        return rows

    rows = asyncio.run(run())
    out: dict = {"conversations": len(conversations), "questions": len(picked), "last_n_turns": LAST_N_TURNS,
                 "answer": answer, "instructions": instructions, "modes": {}}
    for mode in arms:
        mine = [r for r in rows if r["mode"] == mode]
        out["modes"][mode] = {
            "token_f1": summary([r["f1"] for r in mine]), "contained": summary([float(r["contained"]) for r in mine]),
            "by_category": {c: {"n": len(v), "f1": round(sum(r["f1"] for r in v) / len(v), 3),
                                "contained": round(sum(r["contained"] for r in v) / len(v), 3)}
                            for c in sorted({r["category"] for r in mine})
                            for v in [[r for r in mine if r["category"] == c]]},
            "prompt_tokens": latency_summary([r["prompt_tokens"] for r in mine]),
            "first_token_ms": latency_summary([r["first_token_ms"] for r in mine]),
            "total_ms": latency_summary([r["total_ms"] for r in mine]),
            "errors": sum(1 for r in mine if r["error"])}
    if set(arms) == {"memory", "last_n"}:
        mem = [r["f1"] for r in rows if r["mode"] == "memory"]
        last = [r["f1"] for r in rows if r["mode"] == "last_n"]
        mean, low, high = bootstrap_diff_ci(mem, last)
        out["memory_minus_last_n_f1"] = {"mean": round(mean, 3), "ci95": [round(low, 3), round(high, 3)]}
    if adv := [r for r in rows if r["mode"] == "adversarial"]:
        out["adversarial"] = {"questions": len(adv), "said_unknown": sum(r["refused"] for r in adv),
                              "prompt_tokens": latency_summary([r["prompt_tokens"] for r in adv])}
    if answer_check == "observe":
        out["answer_check"] = _locomo_check_report(rows)
    out["rows"] = rows
    return out


def _engine_name() -> str:
    from api.llm.llama_engine import get_engine
    return get_engine().name


def _locomo_check_report(rows: list[dict]) -> dict:
    """Observe runs: what each threshold would have done to the memory arm (F1 with the refused
    answers replaced by the not-found reply, paired against no check) and to the adversarial questions."""
    from api.chat import grounding
    mem = [r for r in rows if r["mode"] == "memory"]
    adv = [r for r in rows if r["mode"] == "adversarial"]
    kinds = {}
    for r in mem + adv:
        kind = (r.get("answer_check") or {}).get("kind")
        kinds[kind] = kinds.get(kind, 0) + 1
    margins = lambda sel: [r["answer_check"]["margin"] for r in sel if r.get("answer_check")]  # noqa: E731
    pos, neg = margins(mem), margins(adv)
    report = {"kinds_asked": kinds,
              "auc_memory_vs_adversarial": _auc_of(pos, neg),
              "by_threshold": {}}
    # The last-N arm (no memories in the prompt) is judged on the instructions: at its shipped threshold.
    last_n = [r for r in rows if r["mode"] == "last_n"]
    shipped = grounding.THRESHOLDS_WITHOUT_KNOWLEDGE.get(_engine_name())
    last_n = _with_threshold(last_n, shipped) if shipped is not None else last_n
    report["last_n_f1_at_shipped_threshold"] = summary([r["f1"] for r in last_n]) if last_n else None
    for t in (0.0, 0.4, 0.6, 0.7, 0.8, 1.0, 1.2):
        applied = _with_threshold(mem + adv, t)
        arm = [r for r in applied if r["mode"] == "memory"]
        mean, low, high = bootstrap_diff_ci([r["f1"] for r in arm], [r["f1"] for r in mem])
        gap = bootstrap_diff_ci([r["f1"] for r in arm], [r["f1"] for r in last_n]) if last_n else (0.0, 0.0, 0.0)
        report["by_threshold"][f"{t:+.2f}"] = {
            "memory_f1": summary([r["f1"] for r in arm]),
            "f1_minus_no_check": {"mean": round(mean, 3), "ci95": [round(low, 3), round(high, 3)]},
            "memory_minus_last_n_f1": {"mean": round(gap[0], 3), "ci95": [round(gap[1], 3), round(gap[2], 3)]},
            "memory_refused": sum(1 for r in arm if r["answer"] == grounding.not_found_text(r["question"])),
            "adversarial_said_unknown": f"{sum(r['refused'] for r in applied if r['mode'] == 'adversarial')} of {len(adv)}"}
    return report


# --- facts -----------------------------------------------------------------------------------------

def _matches(value: str, wanted: str) -> bool:
    v, w = normalize(value), normalize(wanted)
    return bool(v and w) and (w in v or v in w)


def facts(admin_url: str, app_url: str, fact_set: str = "pt") -> dict:
    """Fact extraction through the memory jobs (api/memory/jobs.py, run in-process: the code the worker runs)."""
    from api.core.db import sync_pool, sync_unit_of_work
    from api.core.principal import org_principal
    from api.memory import jobs as memory_jobs

    spec = json.loads((DATA / f"fact_dialogues_{fact_set}.json").read_text())
    org_id = _org(admin_url, f"passo-leve-facts-{fact_set.replace('_', '-')}")
    principal = org_principal(org_id, "admin", kind="worker")
    pool = sync_pool(app_url, max_size=2)
    pool.open(wait=True)

    def store_dialogue(contact_id, turns) -> uuid.UUID:
        with sync_unit_of_work(pool, principal) as s:
            conv = _conversation(s.conn, org_id, agent_id, contact_id)
            for i, t in enumerate(turns):
                s.conn.execute("insert into public.conversation_history (organization_id, conversation_id, "
                               "contact_id, role, content, created_at) values (%s, %s, %s, %s, %s, "
                               "now() + make_interval(secs => %s))", [org_id, conv, contact_id, t["role"],
                                                                       t["content"], i])
        return conv

    def current_facts(contact_id) -> list[dict]:
        with sync_unit_of_work(pool, principal) as s:
            return s.conn.execute("select key, metadata->>'value' as value, confidence from public.memories "
                                  "where contact_id = %s and kind = 'fact' and valid_to is null order by key",
                                  [contact_id]).fetchall()

    try:
        with sync_unit_of_work(pool, principal) as s:
            agent_id = _agent(s.conn, org_id, "Léo", [])
        rows, tp, fp, found, expected_n = [], 0, 0, 0, 0
        for d in spec["dialogues"]:
            with sync_unit_of_work(pool, principal) as s:
                contact = _contact(s.conn, org_id, f"fact-{d['id']}")
            conv = store_dialogue(contact, d["turns"])
            started = time.perf_counter()
            memory_jobs.extract_facts(str(org_id), str(conv))
            extracted = current_facts(contact)
            ok = [f for f in extracted if any(_matches(f["value"] or "", w) for w in d["expected"] + d["allowed"])]
            hit = [w for w in d["expected"] if any(_matches(f["value"] or "", w) for f in extracted)]
            tp, fp = tp + len(ok), fp + len(extracted) - len(ok)
            found, expected_n = found + len(hit), expected_n + len(d["expected"])
            rows.append({"id": d["id"], "seconds": round(time.perf_counter() - started, 1),
                         "extracted": [{"key": f["key"], "value": f["value"]} for f in extracted],
                         "wrong": [f"{f['key']}: {f['value']}" for f in extracted if f not in ok],
                         "missed": [w for w in d["expected"] if w not in hit]})
            log(f"facts {d['id']}: {len(extracted)} extracted, {len(ok)} correct, missed {rows[-1]['missed']}")
        # One pair (dict) or several (list, the "moves" sets): two conversations of one contact; after
        # both, exactly one current address fact, the new one, and where the pair names cities
        # (city_new: the current one, the old one when the move stayed in the city) one current city.
        pairs = spec["supersession"] if isinstance(spec["supersession"], list) else [spec["supersession"]]
        checks = []
        for n, sup in enumerate(pairs):
            with sync_unit_of_work(pool, principal) as s:
                contact = _contact(s.conn, org_id, f"fact-address-{sup.get('id', n)}")
            memory_jobs.extract_facts(str(org_id), str(store_dialogue(contact, sup["first"])))
            after_first = current_facts(contact)
            memory_jobs.extract_facts(str(org_id), str(store_dialogue(contact, sup["second"])))
            after_second = current_facts(contact)
            checks.append(_supersession_check(sup, after_first, after_second))
            log(f"supersession {sup.get('id', n)}: {checks[-1]}")
        supersession = checks[0] if len(checks) == 1 else {
            "pairs": len(checks), "address_ok": sum(c["ok"] for c in checks),
            "city_checked": sum(c.get("city_ok") is not None for c in checks),
            "city_ok": sum(bool(c.get("city_ok")) for c in checks), "checks": checks}
    finally:
        pool.close()
    return {"dialogues": len(rows), "extracted": tp + fp, "precision": round(tp / max(1, tp + fp), 3),
            "recall": round(found / max(1, expected_n), 3), "expected_facts": expected_n,
            "supersession": supersession, "rows": rows}


def _supersession_check(sup: dict, after_first: list[dict], after_second: list[dict]) -> dict:
    addresses = [f for f in after_second if _matches(f["value"] or "", sup["new"])
                 or _matches(f["value"] or "", sup["old"]) or "address" in f["key"] or "endereco" in f["key"]]
    check = {"id": sup.get("id"),
             "after_first": [f"{f['key']}: {f['value']}" for f in after_first],
             "after_second": [f"{f['key']}: {f['value']}" for f in after_second],
             "current_address_facts": len(addresses),
             "ok": len(addresses) == 1 and _matches(addresses[0]["value"] or "", sup["new"])}
    if sup.get("city_new"):
        names = {sup["city_new"], sup.get("city_old") or sup["city_new"]}
        # A city fact, or any fact that holds only a city name the pair is about (not an address).
        cities = [f for f in after_second if f["key"] in ("city", "cidade") or (
            f not in addresses and any(normalize(f["value"] or "") == normalize(c) for c in names))]
        check["current_city_facts"] = len(cities)
        check["city_ok"] = len(cities) == 1 and _matches(cities[0]["value"] or "", sup["city_new"])
    return check


# --- latency ------------------------------------------------------------------------------------------

def latency_curve(sizes=(100, 250, 500, 1000, 1500), repeats: int = 1) -> dict:
    """First-token and total time of the engine by prompt size (tokens of the local model), each
    prompt new (a nonce first, so no prefix is reused), then a follow-up that reuses the prefix."""
    from api.llm.llama_engine import Run, get_engine
    engine = get_engine()
    filler = json.loads((DATA / "passages_pt.json").read_text())["passages"]
    text = " ".join(p["text"] for p in filler)

    def prompt_of(n_tokens: int) -> str:
        words, out = text.split(), []
        i = 0
        while engine.count(" ".join(out)) < n_tokens:
            out.extend(words[i:i + 20])
            i = (i + 20) % len(words)
        return " ".join(out)

    def timed(messages) -> dict:
        run = Run("bench", None)
        started = time.perf_counter()
        first = None
        for _ in engine.generate(messages, {"max_tokens": 32, "temperature": 0.0}, run):
            first = first or time.perf_counter()
        done = time.perf_counter()
        return {"prompt_tokens": run.prompt_tokens, "first_token_ms": round(((first or done) - started) * 1000),
                "total_ms": round((done - started) * 1000), "completion_tokens": run.completion_tokens}

    curve = []
    for size in sizes:
        for _ in range(repeats):
            body = prompt_of(size - 40)
            msgs = [{"role": "system", "content": f"[{uuid.uuid4()}] Responda em português, curto."},
                    {"role": "user", "content": f"{body}\n\nResuma em uma frase."}]
            curve.append({"target": size} | timed(msgs))
            log(f"latency curve: {curve[-1]}")
    # Follow-up turn: same system prompt and first exchange, one new question at the end.
    history = [{"role": "system", "content": f"[{uuid.uuid4()}] Responda em português, curto."},
               {"role": "user", "content": prompt_of(1400) + "\n\nResuma em uma frase."}]
    cold = timed(history)
    follow = history + [{"role": "assistant", "content": "Resumo: políticas da loja Passo Leve."},
                        {"role": "user", "content": "E qual o frete para Curitiba?"}]
    warm = timed(follow)
    # The same follow-up after a system prompt that changed (as when it carried a clock): the
    # cache only covers the tokens before the first difference.
    moved = [{"role": "system", "content": history[0]["content"] + " Agora: 03:07."}] + follow[1:]
    broken = timed(moved)
    return {"curve": curve, "by_size": {
        str(s): latency_summary([c["first_token_ms"] for c in curve if c["target"] == s]) for s in sizes},
        "follow_up": {"first_turn": cold, "follow_up_turn_prefix_reused": warm,
                      "follow_up_turn_system_prompt_changed": broken},
        "model": engine.name, "threads": engine.llm.n_threads if hasattr(engine.llm, "n_threads") else None}


def get_settings_threads() -> int:
    from api.core.config import get_settings
    return get_settings().local_model_threads or max(1, (os.cpu_count() or 2) // 2)


def use_prompts(folder: Path) -> None:
    """Render the packaged templates from `folder` (e.g. an earlier version, to compare)."""
    import jinja2

    from api.prompts import service
    service.PROMPTS_DIR = folder
    service._packaged_env = jinja2.Environment(loader=jinja2.FileSystemLoader(folder), **service._COMMON)
    service.packaged_spec.cache_clear()


def machine() -> dict:
    return {"date": datetime.now(UTC).isoformat(timespec="seconds"), "uptime": subprocess.run(
        ["uptime"], capture_output=True, text=True).stdout.strip(), "cpus": os.cpu_count(),
        "python": platform.python_version()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=os.environ.get("RENUM_LOCAL_MODEL", "qwen1.5b"))
    parser.add_argument("--parts", default="helpcenter,facts,latency,locomo")
    parser.add_argument("--facts-set", default="pt",
                        choices=sorted(p.stem.removeprefix("fact_dialogues_") for p in DATA.glob("fact_dialogues_*.json")),
                        help="fact dialogues (bench/data_answers/fact_dialogues_SET.json): pt (the set prompts were "
                             "tuned on), heldout (never tuned on), en (English; seen since 2026-12-03's US contact "
                             "patterns), en2 (English, written to hold out the English extraction example), en3 "
                             "(English, for one final measurement), moves_pt/moves_en (moves, several pairs with "
                             "cities) or gifts_pt/gifts_en (orders sent to someone else's address)")
    parser.add_argument("--language", choices=sorted(KB_LANGUAGE), default="pt",
                        help="help-center data: pt (Passo Leve, the tuning language), en (written before any "
                             "English measurement; --social is Portuguese only) or entune (English, to tune on)")
    parser.add_argument("--limit", type=int, default=None, help="help-center answerable questions (default all)")
    parser.add_argument("--locomo-questions", type=int, default=200)
    parser.add_argument("--locomo-conversations", type=int, default=2)
    parser.add_argument("--locomo-arms", default="memory,last_n", help="LoCoMo arms to run (memory and/or last_n)")
    parser.add_argument("--check-question", default=None,
                        help="another text for the memory-only check's question, for this run (an experiment)")
    parser.add_argument("--locomo-adversarial", type=int, default=0,
                        help="also this many category-5 questions (not answered by the conversation), memory arm only")
    parser.add_argument("--locomo-answer", choices=["product", "short"], default="product",
                        help="LoCoMo: the agent as shipped, or with LoCoMo's short-phrase answer protocol (LOCOMO_SHORT)")
    parser.add_argument("--ids", default="", help="help-center question ids (comma-separated) instead of --limit")
    parser.add_argument("--modes", default="kb,no_kb", help="help-center agents: with and/or without the KB")
    parser.add_argument("--prompts", type=Path, default=None,
                        help="render packaged prompts from this folder instead of prompts/ (to compare versions)")
    parser.add_argument("--curve-repeats", type=int, default=1)
    parser.add_argument("--answer-check", choices=sorted(ANSWER_CHECK), default="on",
                        help="help-center agents: the answer check as shipped (on), off, or observe (recorded "
                             "for every question, never refusing; reports what each threshold would do)")
    parser.add_argument("--returning", action="store_true",
                        help="help center: asked by a customer with past conversations in memory (memory on), "
                             "plus questions about that history (data_answers/memory_questions_pt.json)")
    parser.add_argument("--instructions", choices=["A", "B"], default=None,
                        help="an agent without a knowledge base told instructions_pt.json's set A (tuning) or B "
                             "(held out); with --returning, plus that set's questions about the customer's history")
    parser.add_argument("--social", action="store_true",
                        help="help center: also the messages that ask nothing (data_answers/social_messages.json)")
    parser.add_argument("--kb-hits", type=int, default=None,
                        help="knowledge excerpts per prompt instead of api/chat/context.KB_HITS (to compare)")
    parser.add_argument("--kb-gap", type=float, default=None,
                        help="leave out excerpts whose fused score is this far below the first (to compare)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    from api.chat import context
    if args.kb_hits:
        context.KB_HITS = args.kb_hits
    if args.kb_gap is not None:
        context.KB_GAP = args.kb_gap
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    out_path = args.out or BENCH_DIR / (f"results-{args.model.replace('/', '_')}-{'-'.join(parts)}"
                                        f"{'' if args.language == 'pt' else '-' + args.language}.json")
    admin_url, app_url, redis_url = start_stack(args.model)
    if args.prompts:
        use_prompts(args.prompts)
    if args.check_question:
        from api.chat import grounding
        grounding._QUESTIONS["memory"] = (args.check_question, grounding.THRESHOLDS_MEMORY_ONLY)
    from api.llm.llama_engine import get_engine
    engine = get_engine()
    result: dict = {"model": args.model, "model_file": str(engine.path), "machine_before": machine(),
                    "threads": get_settings_threads(), "prompts": str(args.prompts or "prompts/"),
                    "command": "python -m bench.answers " + " ".join(argv if argv is not None else os.sys.argv[1:])}
    log(f"model {engine.name} from {engine.path}; {result['machine_before']['uptime']}")
    try:
        for part in parts:
            started = time.perf_counter()
            if part == "helpcenter":
                result[part] = helpcenter(admin_url, app_url, redis_url, args.limit,
                                          tuple(m.strip() for m in args.modes.split(",") if m.strip()),
                                          [i.strip() for i in args.ids.split(",") if i.strip()] or None,
                                          args.answer_check, args.returning, args.social, args.instructions,
                                          args.language)
            elif part == "locomo":
                result[part] = locomo(admin_url, app_url, redis_url, args.locomo_questions, args.locomo_conversations,
                                      args.locomo_answer, args.answer_check, args.locomo_adversarial,
                                      tuple(a.strip() for a in args.locomo_arms.split(",") if a.strip()))
            elif part == "facts":
                result[part] = facts(admin_url, app_url, args.facts_set)
            elif part == "latency":
                result[part] = latency_curve(repeats=args.curve_repeats)
            else:
                raise SystemExit(f"unknown part {part}")
            result[part]["seconds"] = round(time.perf_counter() - started, 1)
            result[part]["machine_after"] = machine()
            out_path.parent.mkdir(parents=True, exist_ok=True)
            out_path.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str))
            brief = {k: v for k, v in result[part].items() if k != "rows" and k != "curve"}
            print(json.dumps({part: brief}, indent=2, ensure_ascii=False, default=str), flush=True)
    finally:
        stop_stack()
    log(f"results in {out_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
