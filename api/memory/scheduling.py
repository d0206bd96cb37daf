"""When to consolidate a conversation (summary + facts): idle debounce or every N exchanges.

Each exchange bumps a counter `memn:{org}:{conv}` and issues a fresh token in
`memq:{org}:{conv}`; a delayed `consolidate_if_idle(token)` runs only if its token is still
the latest one (no exchange since), so a burst of messages yields one consolidation after
the customer goes quiet. Every N exchanges consolidation runs at once, so a long
conversation's memory does not wait for its end. Both keys are deleted on contact erasure
(api/memory/short_term.CONVERSATION_KEY_PREFIXES).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

import redis

DEFAULT_IDLE_S = 300  # keep below the broker's visibility timeout: countdown tasks wait unacked
DEFAULT_EVERY_N_TURNS = 10
_COUNTER_TTL_S = 7 * 24 * 3600

# Compare-and-delete: the delayed task wins only if no newer exchange replaced its token.
_CLAIM = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 1
end
return 0
"""


@dataclass(frozen=True)
class Decision:
    consolidate_now: bool
    token: str | None = None  # for the delayed consolidate_if_idle when not now


def _keys(org_id: str, conversation_id: str) -> tuple[str, str]:
    return f"memq:{org_id}:{conversation_id}", f"memn:{org_id}:{conversation_id}"


def record_turn(client: redis.Redis, org_id: str, conversation_id: str, every_n_turns: int,
                idle_s: int) -> Decision:
    token_key, counter_key = _keys(org_id, conversation_id)
    pipe = client.pipeline(transaction=True)
    pipe.incr(counter_key)
    pipe.expire(counter_key, _COUNTER_TTL_S)
    count, _ = pipe.execute()
    if every_n_turns > 0 and count >= every_n_turns:
        # Consolidating now covers these turns: reset the counter and cancel the pending idle run.
        client.delete(token_key, counter_key)
        return Decision(consolidate_now=True)
    token = uuid.uuid4().hex
    client.set(token_key, token, ex=max(idle_s * 3, 60))
    return Decision(consolidate_now=False, token=token)


def claim_idle(client: redis.Redis, org_id: str, conversation_id: str, token: str) -> bool:
    token_key, counter_key = _keys(org_id, conversation_id)
    return bool(client.eval(_CLAIM, 2, token_key, counter_key, token))
