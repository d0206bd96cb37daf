"""The one place untrusted request bytes are bounded before any route sees them.

An ASGI middleware (not a FastAPI dependency) because the checks must run before FastAPI
parses a body and before a route can store what it parsed:
- body size: a declared Content-Length over the limit is refused unread (413); a body sent
  without one is counted while it streams and cut off at the limit;
- JSON bodies: nesting depth (a 10k-deep body is a RecursionError or a row that can never be
  serialised back) and text Postgres cannot store (NUL, lone UTF-16 surrogates) anywhere in
  keys or values: 422 here, instead of a 500 from psycopg deep inside a transaction;
- the path and query string: NUL (`%00`) in any parameter (422).
Multipart form fields are checked by `check_text`/`parse_json_field`, the same rules, by the
routes that read forms (the middleware streams those bodies unparsed).
"""
from __future__ import annotations

import asyncio
import json
import re
from typing import Annotated, Any
from urllib.parse import unquote_to_bytes

from pydantic import AfterValidator
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.core.config import get_settings
from api.core.errors import DomainError, PayloadTooLarge, Unprocessable

MAX_JSON_DEPTH = 32
# Multipart envelope and form fields next to the file itself.
FORM_OVERHEAD_BYTES = 256 * 1024
# JSON endpoints that carry a whole document's text get the upload limit instead.
_DOCUMENT_JSON_PATH = re.compile(r"^/v1/knowledge-bases/[^/]+/documents/text/?$")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# Inbound channel webhooks: a third party's payload with a NUL in a customer's text is
# cleaned by the channel's parser (strip_unstorable) rather than refused and lost.
_CHANNEL_PREFIX = "/v1/channels/"
_INLINE_PARSE_BYTES = 256 * 1024


def check_text(value: str, where: str) -> str:
    """Postgres text cannot hold NUL and UTF-8 cannot encode a lone surrogate: refuse both."""
    if _UNSTORABLE.search(value):
        raise Unprocessable(f"{where}: contains a NUL character or an invalid (surrogate) code point",
                            code="invalid_text")
    return value


def check_json_value(value: Any, where: str = "body", max_depth: int = MAX_JSON_DEPTH, text: bool = True) -> None:
    """Depth and text checks over a parsed JSON value, iteratively (no recursion to exhaust)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            if text:
                check_text(node, where)
        elif isinstance(node, (dict, list)):
            if depth > max_depth:
                raise Unprocessable(f"{where}: JSON is nested deeper than {max_depth} levels", code="too_deep")
            if isinstance(node, dict):
                for key, child in node.items():
                    if text:
                        check_text(key, where)
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in node)


def parse_json(raw: bytes | str, where: str = "body", text: bool = True) -> Any:
    """json.loads with the edge's checks; ValueError (not JSON) is left to the caller."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise Unprocessable(f"{where}: JSON is nested deeper than {MAX_JSON_DEPTH} levels", code="too_deep") from None
    check_json_value(value, where, text=text)
    return value


def strip_unstorable(value: str) -> str:
    """For channels: a customer's message with a stray NUL is still answered, minus the NUL."""
    return _UNSTORABLE.sub("", value)


def parse_json_field(raw: str, where: str, max_bytes: int) -> dict:
    """A JSON object sent as a form field (multipart `metadata`)."""
    if len(raw.encode("utf-8", "surrogatepass")) > max_bytes:  # 422 like the same object in a JSON body
        raise Unprocessable(f"{where}: larger than {max_bytes} bytes when serialised as JSON")
    try:
        value = parse_json(raw, where)
    except ValueError:
        raise Unprocessable(f"{where}: must be a JSON object") from None
    if not isinstance(value, dict):
        raise Unprocessable(f"{where}: must be a JSON object")
    return value


def check_metadata_size(value: dict | None) -> dict | None:
    """Pydantic validator for free-form `metadata`/`settings` objects (stored as jsonb)."""
    if value is None:
        return value
    limit = get_settings().max_metadata_bytes
    if len(json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")) > limit:
        raise ValueError(f"larger than {limit} bytes when serialised as JSON")
    return value


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            mime = value.split(b";")[0].strip().lower()
            return mime.endswith(b"/json") or mime.endswith(b"+json")
    return True  # FastAPI parses a body without Content-Type as JSON


def _header(scope: Scope, wanted: bytes) -> bytes | None:
    return next((value for name, value in scope["headers"] if name == wanted), None)


def body_limit(scope: Scope) -> int:
    settings = get_settings()
    content_type = (_header(scope, b"content-type") or b"").lower()
    if content_type.startswith(b"multipart/"):
        return settings.max_upload_bytes + FORM_OVERHEAD_BYTES
    if _DOCUMENT_JSON_PATH.match(scope["path"]):
        # JSON escaping can double a text's size; the stored text is limited again by the upload check.
        return 2 * settings.max_upload_bytes + FORM_OVERHEAD_BYTES
    return settings.max_json_bytes


def _check_url(scope: Scope) -> None:
    raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogatepass")
    if b"\x00" in unquote_to_bytes(raw_path):
        raise Unprocessable("the path contains a NUL character", code="invalid_text")
    query = scope.get("query_string") or b""
    if b"%00" in query or b"\x00" in query:
        raise Unprocessable("a query parameter contains a NUL character", code="invalid_text")


async def _read_all(receive: Receive, limit: int) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the request body is larger than the {limit}-byte limit")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


class BodyTooLarge(HTTPException):
    """Raised from inside a route when a streamed body passes the limit. An HTTPException,
    because FastAPI turns any other error met while it parses a form into a 400."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the {limit}-byte limit")


def _counting(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)
        return message
    return wrapped


class EdgeGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            receive = await self._guard(scope, receive)
        except DomainError as exc:
            response = JSONResponse({"error": {"code": exc.code, "message": exc.message}}, exc.status_code)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _guard(self, scope: Scope, receive: Receive) -> Receive:
        _check_url(scope)
        if scope["method"] not in _BODY_METHODS:
            return receive
        limit = body_limit(scope)
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"the request body is larger than the {limit}-byte limit")
        if not _is_json(scope):
            return _counting(receive, limit)
        body = await _read_all(receive, limit)
        if body.strip():
            text = not scope["path"].startswith(_CHANNEL_PREFIX)
            try:
                if len(body) > _INLINE_PARSE_BYTES:  # a document's text: walk its strings off the event loop
                    await asyncio.to_thread(parse_json, body, "body", text)
                else:
                    parse_json(body, text=text)
            except ValueError:
                pass  # not JSON at all: FastAPI answers that with its own 422/400
        return _replay(body, receive)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:  # later calls wait for the real disconnect (streaming responses listen for it)
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}
    return replay


# A free-form object a client stores (metadata, settings): bounded size; depth and text were
# already checked by EdgeGuard (JSON bodies) or parse_json_field (forms).
Metadata = Annotated[dict, AfterValidator(check_metadata_size)]
