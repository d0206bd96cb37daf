"""Embedding errors: a DomainError family (status_code, code, message)."""
from api.core.errors import DomainError


class EmbeddingError(DomainError):
    """The embedding provider failed or returned something unusable."""

    status_code: int = 502
    code: str = "embedding_failed"

    def __init__(self, message: str, *, code: str | None = None, status_code: int | None = None,
                 retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message  # client-safe; provider details go to the log via __cause__
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        # Workers retry (with backoff) only errors a later attempt can fix: rate limits, timeouts, 5xx.
        self.retryable = retryable


class UnknownEmbeddingModel(ValueError):
    """A configuration error: the vector dimension of this model is not known."""
