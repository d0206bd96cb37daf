"""What chat UIs (Open WebUI, LibreChat...) tell us beyond the OpenAI body.

They speak for many end users through one API key, naming the user and the chat in headers
(Open WebUI: X-OpenWebUI-User-Id/-Email/-Name and X-OpenWebUI-Chat-Id); the names are settings.
They also send their own housekeeping prompts (chat titles, tags, follow-up suggestions)
through the same endpoint and model; those start with a recognisable prefix ("### Task:" in
every Open WebUI template) and must not become customer conversations or memories.
"""
from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import Headers

from api.core.config import Settings
from api.openai_compat.schemas import CompletionRequest

MAX_HEADER_CHARS = 200


@dataclass(frozen=True)
class ChatUI:
    user: str | None  # the contact's external id
    name: str | None
    chat_id: str | None


def _first(headers: Headers, names: str) -> str | None:
    for name in (n.strip() for n in names.split(",")):
        value = (headers.get(name) or "").strip() if name else ""
        if value:
            return value[:MAX_HEADER_CHARS]
    return None


def identify(body: CompletionRequest, headers: Headers, settings: Settings) -> ChatUI:
    """`user` in the body wins; otherwise the UI's user id header, then its email header."""
    user = body.user or _first(headers, settings.chat_ui_user_id_headers) \
        or _first(headers, settings.chat_ui_user_email_headers)
    name = _first(headers, settings.chat_ui_user_name_headers) if user else None
    return ChatUI(user=user, name=name, chat_id=_first(headers, settings.chat_ui_chat_id_headers))


def is_task(body: CompletionRequest, settings: Settings) -> bool:
    """The UI's own request (title, tags, follow-ups, search queries), not a customer's message."""
    text = body.messages[-1].text.lstrip()
    return any(text.startswith(p.strip()) for p in settings.chat_ui_task_prefixes.split("|") if p.strip())
