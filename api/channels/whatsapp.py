"""WhatsApp Cloud API: verify Meta's webhooks, read their messages, send through the Graph API.

Inbound (`/v1/channels/whatsapp/{integration_id}`, the URL configured in the Meta app):
- GET: the subscription handshake: `hub.mode=subscribe`, `hub.verify_token` equal to the
  integration's verify token -> 200 with `hub.challenge` as plain text, else 403;
- POST: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>` (401 otherwise);
  the body is `{"object": "whatsapp_business_account", "entry": [{"changes": [{"field":
  "messages", "value": {metadata, contacts, messages | statuses}}]}]}`, possibly with several
  messages, and Meta retries it until it gets a 200.

Outbound: `POST {base}/{version}/{phone_number_id}/messages` with the access token as Bearer.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from api.channels.errors import ProviderError
from api.core import egress
from api.core.errors import Unauthorized, Unprocessable

GRAPH_VERSION = "v21.0"
TEXT_LIMIT = 4096  # characters in one text message body
# Text the agent can answer; everything else is media or something it cannot read.
TEXT_TYPES = ("text", "interactive", "button")
MEDIA_TYPES = ("audio", "voice", "image", "video", "document", "sticker", "location", "contacts", "unsupported")
# Graph error codes that mean "slow down" (throttling, per-pair and per-number rate limits)
# and "the 24-hour customer-service window is closed" (re-engagement message).
RATE_LIMIT_CODES = (4, 80007, 130429, 131048, 131056)
WINDOW_CLOSED_CODE = 131047


class WhatsAppError(ProviderError):
    @property
    def window_closed(self) -> bool:
        return self.provider_code == WINDOW_CLOSED_CODE


def sign(app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def check_signature(app_secret: str, header: str | None, body: bytes) -> None:
    if not header:
        raise Unauthorized("missing X-Hub-Signature-256", code="invalid_signature")
    if not hmac.compare_digest(sign(app_secret, body), header.strip()):
        raise Unauthorized("the signature does not match", code="invalid_signature")


@dataclass(frozen=True)
class IncomingMessage:
    message_id: str
    wa_id: str  # the customer's WhatsApp id (their phone number, digits only)
    name: str | None
    type: str
    content: str  # the text, the chosen button/list title, or "" for media
    sent_at: datetime


@dataclass(frozen=True)
class Parsed:
    messages: list[IncomingMessage]
    statuses: int  # delivery receipts (sent/delivered/read/failed): acknowledged, never answered
    ignored: int  # changes for another phone number, other fields, reactions, system messages


def parse(body: bytes, phone_number_id: str) -> Parsed:
    """The messages of a webhook for `phone_number_id`; 422 for a body that is not Meta's shape."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise Unprocessable("the body must be a JSON object") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("entry"), list):
        raise Unprocessable("the body must be a WhatsApp webhook with `entry`")
    messages: list[IncomingMessage] = []
    statuses = ignored = 0
    for entry in payload["entry"]:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        for change in changes if isinstance(changes, list) else []:
            value = change.get("value") if isinstance(change, dict) else None
            if not isinstance(value, dict) or change.get("field") != "messages":
                ignored += 1
                continue
            if str((value.get("metadata") or {}).get("phone_number_id")) != phone_number_id:
                ignored += 1  # another number of the same Meta app
                continue
            statuses += len(value.get("statuses") or [])
            names = {c.get("wa_id"): (c.get("profile") or {}).get("name")
                     for c in value.get("contacts") or [] if isinstance(c, dict)}
            for raw in value.get("messages") or []:
                message = _message(raw, names)
                if message is None:
                    ignored += 1
                else:
                    messages.append(message)
    return Parsed(messages, statuses, ignored)


def _message(raw: object, names: dict) -> IncomingMessage | None:
    if not isinstance(raw, dict) or not raw.get("id") or not raw.get("from"):
        raise Unprocessable("each message needs `id` and `from`")
    kind = str(raw.get("type") or "unsupported")
    if kind in ("reaction", "system", "ephemeral", "order", "request_welcome"):
        return None
    content = ""
    if kind == "text":
        content = str((raw.get("text") or {}).get("body") or "")
    elif kind == "interactive":  # a reply to our buttons or list: its title is what the customer chose
        interactive = raw.get("interactive") or {}
        choice = interactive.get(interactive.get("type")) or {}
        content = str(choice.get("title") or choice.get("id") or "")
    elif kind == "button":  # a template's quick-reply button
        content = str((raw.get("button") or {}).get("text") or (raw.get("button") or {}).get("payload") or "")
    elif kind not in MEDIA_TYPES:
        kind = "unsupported"
    if kind == "audio" and (raw.get("audio") or {}).get("voice"):
        kind = "voice"
    timestamp = str(raw.get("timestamp") or "")
    sent_at = datetime.fromtimestamp(int(timestamp), UTC) if timestamp.isdigit() else datetime.now(UTC)
    wa_id = str(raw["from"])
    if not wa_id.isdigit() or len(wa_id) > 20:
        raise Unprocessable("`from` must be a WhatsApp id (digits)")
    return IncomingMessage(message_id=str(raw["id"])[:180], wa_id=wa_id, name=names.get(wa_id) or None,
                           type=kind, content=content.strip(), sent_at=sent_at)


def text_payload(to: str, body: str) -> dict:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "text",
            "text": {"preview_url": False, "body": body}}


def template_payload(to: str, name: str, language: str) -> dict:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "template",
            "template": {"name": name, "language": {"code": language}}}


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Pieces of at most `limit` characters, cut at a paragraph or line break when there is one."""
    pieces = []
    while len(text) > limit:
        cut = max(text.rfind("\n\n", 0, limit), text.rfind("\n", 0, limit), text.rfind(" ", 0, limit))
        cut = cut if cut > limit // 2 else limit
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return [p for p in [*pieces, text] if p]


async def send(integration: dict, access_token: str, payload: dict, *, timeout_s: float, attempts: int = 3,
               backoff_s: float = 0.5) -> str:
    """POST one message; returns its `wamid`. Throttling (429, rate-limit codes) and 5xx are tried
    again here a few times, honouring a short Retry-After, then raised as retryable so the task
    tries later; other 4xx (bad token, closed window: code 131047) are raised as final."""
    url = f"{integration['base_url']}/{GRAPH_VERSION}/{integration['phone_number_id']}/messages"
    try:
        await asyncio.to_thread(egress.check_url, url)
    except egress.EgressBlocked as exc:
        raise WhatsAppError(f"Graph API URL blocked: {exc}", retryable=False) from exc
    error: WhatsAppError | None = None
    async with httpx.AsyncClient(timeout=timeout_s) as client:
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(_delay(error, backoff_s * 2 ** (attempt - 1)))
            try:
                resp = await client.post(url, json=payload, headers={"Authorization": f"Bearer {access_token}"})
            except httpx.HTTPError as exc:
                error = WhatsAppError(f"the Graph API could not be reached: {type(exc).__name__}", retryable=True)
                continue
            if resp.status_code < 300:
                ids = [m.get("id") for m in (_json(resp).get("messages") or []) if isinstance(m, dict)]
                return str(ids[0]) if ids else ""
            error = _error(resp)
            if not error.retryable:
                raise error
    raise error


def _json(resp: httpx.Response) -> dict:
    try:
        data = resp.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _error(resp: httpx.Response) -> WhatsAppError:
    detail = _json(resp).get("error") or {}
    code = detail.get("code") if isinstance(detail.get("code"), int) else None
    retryable = resp.status_code in (408, 429) or resp.status_code >= 500 or code in RATE_LIMIT_CODES
    # Never the response body verbatim: Graph error messages can echo the request.
    err = WhatsAppError(f"the Graph API answered HTTP {resp.status_code}" + (f" (code {code})" if code else ""),
                        retryable=retryable, code=code)
    err.retry_after = resp.headers.get("Retry-After")  # type: ignore[attr-defined]
    return err


def _delay(error: WhatsAppError | None, default: float) -> float:
    after = getattr(error, "retry_after", None)
    return min(5.0, float(after)) if after and str(after).isdigit() else default
