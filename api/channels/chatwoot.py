"""Chatwoot agent bot: authenticate its webhooks, read `message_created`, post replies.

Authentication of `POST /v1/channels/chatwoot/{integration_id}`:
- with a `webhook_secret` on the integration, the request must be signed the way Chatwoot signs
  webhooks: `X-Chatwoot-Timestamp: <unix seconds>` within 300 s of our clock and
  `X-Chatwoot-Signature: sha256=<hex HMAC-SHA256(secret, f"{timestamp}.{raw body}")>`;
- without one, the integration's token must be sent as `?token=` (Chatwoot's agent bot URL
  cannot carry headers) or as the `X-Renum-Channel-Token` header.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from dataclasses import dataclass

import httpx

from api.channels import credentials
from api.channels.errors import ProviderError
from api.core import egress, secretbox
from api.core.edge import strip_unstorable
from api.core.errors import Unauthorized, Unprocessable

SIGNATURE_WINDOW_S = 300
# Chatwoot's ids are integers; anything longer is not Chatwoot's (and would not fit the
# 200-character external ids built from them).
MAX_ID_CHARS = 64
MAX_NAME_CHARS = 200
MAX_CONTENT_CHARS = 16_000  # what the chat API accepts; a longer message is cut, not lost


def sign(secret: str, timestamp: int, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def check_signature(secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float) -> None:
    if not signature or not timestamp:
        raise Unauthorized("missing X-Chatwoot-Signature / X-Chatwoot-Timestamp", code="invalid_signature")
    # isdigit() alone accepts '²' and 5,000-digit strings that int() refuses: ASCII, bounded.
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12) \
            or abs(now - int(timestamp)) > SIGNATURE_WINDOW_S:
        raise Unauthorized(f"X-Chatwoot-Timestamp is not within {SIGNATURE_WINDOW_S} s of now",
                           code="invalid_signature")
    if not hmac.compare_digest(sign(secret, int(timestamp), body), signature.strip()):
        raise Unauthorized("the signature does not match", code="invalid_signature")


@dataclass(frozen=True)
class IncomingMessage:
    message_id: str
    conversation_id: str
    content: str
    sender_id: str | None
    sender_name: str | None
    sender_phone: str | None = None
    sender_email: str | None = None
    message_type: str = "text"  # or voice, image, video, document (attachments)


_ATTACHMENT_TYPES = {"audio": "voice", "image": "image", "video": "video", "file": "document", "location": "location"}


def parse(body: bytes) -> tuple[str, IncomingMessage | str | None, str | None]:
    """(event, message or None, why it is ignored); 422 for a payload that is not Chatwoot's.
    For `conversation_resolved`, the second item is the resolved conversation's id."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, nested too deep
        raise Unprocessable("the body must be a JSON object") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("event"), str):
        raise Unprocessable("the body must be a JSON object with an `event`")
    event = payload["event"]
    if event == "conversation_resolved" and payload.get("id") is not None:
        # An agent resolved it in Chatwoot: the conversation goes back to the agent bot.
        return event, str(payload["id"]), None
    if event != "message_created":
        return event, None, f"event {event} is not answered"
    conversation = payload.get("conversation")
    message_id = payload.get("id")
    if not isinstance(conversation, dict) or not _is_id(conversation.get("id")) or not _is_id(message_id):
        raise Unprocessable(f"message_created needs `id` and `conversation.id` (integers or strings of at most "
                            f"{MAX_ID_CHARS} characters)")
    # Webhooks send "incoming"; some Chatwoot payloads use the enum's integer (0 = incoming).
    if payload.get("message_type") not in ("incoming", 0) or payload.get("private"):
        return event, None, "only incoming, public messages from the customer are answered"
    content = payload.get("content")
    attachments = [a for a in payload.get("attachments") or [] if isinstance(a, dict)]
    if (not isinstance(content, str) or not content.strip()) and not attachments:
        return event, None, "the message has no text"
    sender = payload.get("sender") if isinstance(payload.get("sender"), dict) else {}
    if sender.get("type") not in (None, "contact"):
        return event, None, "only messages from the contact are answered"
    if sender.get("id") is not None and not _is_id(sender["id"]):
        raise Unprocessable(f"sender.id must be an integer or a string of at most {MAX_ID_CHARS} characters")
    content = strip_unstorable(content).strip()[:MAX_CONTENT_CHARS] if isinstance(content, str) else ""
    if not content and not attachments:
        return event, None, "the message has no text"
    # A voice note or file the agent cannot read: the integration's media rule answers it.
    kind = "text" if content else _ATTACHMENT_TYPES.get(str(attachments[0].get("file_type")), "document")
    return event, IncomingMessage(
        message_id=_clean_id(message_id), conversation_id=_clean_id(conversation["id"]), content=content,
        message_type=kind, sender_id=None if sender.get("id") is None else _clean_id(sender["id"]),
        sender_name=_text(sender.get("name"), MAX_NAME_CHARS), sender_phone=_text(sender.get("phone_number")),
        sender_email=_text(sender.get("email"))), None


def _is_id(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) < 10 ** MAX_ID_CHARS
    return isinstance(value, str) and 0 < len(value) <= MAX_ID_CHARS and bool(_clean_id(value))


def _clean_id(value: int | str) -> str:
    return strip_unstorable(str(value)).strip()


def _text(value: object, limit: int = 320) -> str | None:
    return strip_unstorable(value).strip()[:limit] or None if isinstance(value, str) else None


class ChatwootError(ProviderError):
    pass


async def post_reply(integration: dict, conversation_id: str, content: str, timeout_s: float) -> None:
    """POST the agent's answer into the Chatwoot conversation as an outgoing message."""
    await _post(integration, f"/conversations/{conversation_id}/messages",
                {"content": content, "message_type": "outgoing", "private": False}, timeout_s)


async def hand_off(integration: dict, conversation_id: str, reason: str, timeout_s: float) -> None:
    """Give the conversation to the inbox's human agents: a private note with the reason, then
    status `open` (an agent bot's conversations wait as `pending`; `open` puts them in the
    agents' queue). Both calls are safe to repeat."""
    await _post(integration, f"/conversations/{conversation_id}/messages",
                {"content": f"Renum handed this conversation to a human: {reason}", "message_type": "outgoing",
                 "private": True}, timeout_s)
    await _post(integration, f"/conversations/{conversation_id}/toggle_status", {"status": "open"}, timeout_s)


async def _post(integration: dict, path: str, payload: dict, timeout_s: float) -> None:
    url = f"{integration['base_url']}/api/v1/accounts/{integration['account_id']}{path}"
    try:
        await asyncio.to_thread(egress.check_url, url)
    except egress.EgressBlocked as exc:
        raise ChatwootError(f"Chatwoot URL blocked: {exc}", retryable=False) from exc
    try:
        token = credentials.reveal(integration, "api_access_token")
    except secretbox.SecretUnavailable as exc:
        raise ChatwootError(f"the integration's access token cannot be read: {exc}", retryable=False) from exc
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            resp = await client.post(url, json=payload, headers={"api_access_token": token})
    except httpx.HTTPError as exc:
        raise ChatwootError(f"Chatwoot could not be reached: {type(exc).__name__}", retryable=True) from exc
    if resp.status_code >= 300:
        # 408/429/5xx may pass; another 4xx (bad token, unknown conversation) will not.
        retryable = resp.status_code in (408, 429) or resp.status_code >= 500
        raise ChatwootError(f"Chatwoot answered HTTP {resp.status_code}", retryable=retryable)
