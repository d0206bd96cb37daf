"""A stored answer as the chat endpoints return it, fresh or replayed for a retried message."""
from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from api.conversations import service as conversations_service
from api.core.db import Session


@dataclass(frozen=True)
class Reply:
    conversation_id: UUID
    user_message: dict
    message: dict  # the assistant message row, with its citations
    citations: list[dict]
    usage: dict
    model: str
    latency_ms: int | None
    first_token_ms: int | None
    replayed: bool


def stored_reply(question: dict, answer: dict, citations: list[dict], *, replayed: bool = False) -> Reply:
    details = answer["metadata"] or {}
    completion = answer["tokens"] or 0
    usage = details.get("usage") or {"prompt_tokens": 0, "completion_tokens": completion, "total_tokens": completion}
    return Reply(conversation_id=answer["conversation_id"], user_message=question,
                 message={**answer, "citations": citations}, citations=citations, usage=usage,
                 model=answer["model"] or "", latency_ms=details.get("latency_ms"),
                 first_token_ms=details.get("first_token_ms"), replayed=replayed)


async def replay(session: Session, question: dict, answer: dict) -> Reply:
    """The answer already stored for a retried message, with the citations stored with it."""
    cited = await conversations_service.citations(session, [answer["id"]])
    return stored_reply(question, answer, cited.get(answer["id"], []), replayed=True)
