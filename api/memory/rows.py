"""Shared by the memory jobs: a conversation's memory context and a memories row."""
from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import numpy as np

from api.core.db import Session
from api.memory import repository_sync as repo
from api.memory.text import fts_config


def memory_row(ctx: dict, kind: str, content: str, vector: np.ndarray, *, key: str | None = None,
                message_id: UUID | None = None, confidence: float = 1.0, metadata: dict | None = None,
                at: datetime | None = None, seq: int | None = None) -> dict:
    at = at or datetime.now(UTC)
    return {"organization_id": ctx["organization_id"], "contact_id": ctx["contact_id"], "agent_id": ctx["agent_id"],
            "conversation_id": ctx["conversation_id"], "message_id": message_id, "kind": kind, "key": key,
            "content": content, "confidence": confidence, "embedding": np.asarray(vector, dtype=np.float32),
            "embedding_dim": len(vector), "fts_config": fts_config(content), "metadata": metadata or {},
            "valid_from": at, "created_at": at, "seq": seq}


def load_context(session: Session, conversation_id: UUID) -> dict | None:
    """Conversation, agent and contact fields the jobs need; None when the conversation is not
    visible (deleted, or another organization's under RLS) or its agent has memory off."""
    ctx = repo.conversation_context(session.conn, conversation_id)
    if ctx is None or not ctx["memory_enabled"]:
        return None
    return {**ctx, "conversation_id": ctx["id"]}
