"""Errors of a channel provider's API (Chatwoot, the WhatsApp Graph API) seen by the reply task."""
from __future__ import annotations


class ProviderError(Exception):
    """`retryable`: the task tries again later (timeouts, 408/429/5xx, rate limits); otherwise the
    message is given up. `code`: the provider's own error code when it sent one."""

    def __init__(self, message: str, *, retryable: bool, code: int | None = None):
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.code = code
