"""The one error root: every domain error family (documents, embeddings, LLM, prompts, channel
providers, catalog feeds, ...) subclasses DomainError and carries its HTTP status, code and a
client-safe message. Nothing here imports FastAPI, so jobs raise the same errors; the HTTP
rendering lives in api/core/error_handlers.py.
"""
from __future__ import annotations


class DomainError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.headers = headers or {}


class Unauthorized(DomainError):
    status_code, code = 401, "unauthorized"

    def __init__(self, message: str = "missing or invalid credentials", **kw):
        kw.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(message, **kw)


class Forbidden(DomainError):
    status_code, code = 403, "forbidden"


class NotFound(DomainError):
    status_code, code = 404, "not_found"


class Conflict(DomainError):
    status_code, code = 409, "conflict"


class PayloadTooLarge(DomainError):
    status_code, code = 413, "payload_too_large"


class Unprocessable(DomainError):
    status_code, code = 422, "invalid_request"


class RateLimited(DomainError):
    status_code, code = 429, "rate_limited"


class Locked(DomainError):
    status_code, code = 409, "conversation_busy"


class Unavailable(DomainError):
    status_code, code = 503, "unavailable"
