"""Chat overhead without the LLM on LoCoMo data: what api/chat does before calling the model.

For a question asked in the last session of each LoCoMo conversation: load the target
(conversation, agent, contact), gather context (recent turns from Redis or Postgres, facts,
summaries, memory retrieval with the shared query embedding, knowledge search when the agent
has knowledge bases: none here) and render/fit the prompt. Query vectors come from the Redis
cache (as for a repeated question); the uncached embedding time is reported separately.
"""
from __future__ import annotations

import time
import uuid

from bench.metrics import latency_summary


async def chat_overhead(app_url: str, redis_url: str, loaded, conversations, limit: int) -> dict:
    from redis.asyncio import Redis

    from api.chat import context, prompt
    from api.conversations import repository as conversations_repository
    from api.core.config import get_settings
    from api.core.db import async_pool, unit_of_work
    from api.core.principal import org_principal
    from api.prompts.service import approx_tokens

    principal = org_principal(loaded.org_id, "admin", kind="api_key")
    pool = async_pool(app_url, min_size=1, max_size=2)
    await pool.open(wait=True)
    redis = Redis.from_url(redis_url)
    budget = get_settings().context_token_budget
    timings, prompt_tokens = [], []
    questions = [(conv, qa) for conv in conversations for qa in conv.qa if qa.evidence and qa.category != 5]
    step = max(1, len(questions) // limit)
    try:
        for conv, qa in questions[::step][:limit]:
            started = time.perf_counter()
            async with unit_of_work(pool, principal) as session:
                target = await conversations_repository.chat_target(session.conn, loaded.agent_id,
                                                                    loaded.last_conversation[conv.id])
                gathered = await context.gather(session, redis, target, uuid.uuid4(), qa.question, memory=True)
                built = prompt.build(target, qa.question, gathered, budget=budget, count=approx_tokens)
            timings.append((time.perf_counter() - started) * 1000)
            prompt_tokens.append(built.tokens)
    finally:
        await redis.aclose()
        await pool.close()
    return {"questions": len(timings), "context_assembly_ms": latency_summary(timings),
            "prompt_tokens": latency_summary(prompt_tokens)}
