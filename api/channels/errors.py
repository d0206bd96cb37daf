"""Errors of a channel provider's API (Chatwoot, the WhatsApp Graph API) seen by the reply task."""
from __future__ import annotations

from api.core.errors import DomainError


class ProviderError(DomainError):
    """`retryable`: the task tries again later (timeouts, 408/429/5xx, rate limits); otherwise the
    message is given up. `provider_code`: the provider's own error code when it sent one (`code`
    stays the domain error code every DomainError has)."""

    status_code = 502
    code = "channel_provider_error"

    def __init__(self, message: str, *, retryable: bool, code: int | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.provider_code = code
