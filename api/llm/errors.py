"""Domain errors of the LLM layer; they carry their HTTP status for the global handler.

`message` is safe to show to clients: it never contains provider error text, which can
leak keys, URLs or prompt fragments. The provider error stays chained (`__cause__`) for logs.
"""
from __future__ import annotations

from api.core.errors import DomainError


class LLMError(DomainError):
    status_code = 502
    code = "llm_error"

    def __init__(self, message: str = "The language model failed to answer.") -> None:
        super().__init__(message)
        self.message = message


class LLMUnavailable(LLMError):
    """No configured model (including fallbacks) could answer."""

    status_code = 503
    code = "llm_unavailable"

    def __init__(self, message: str = "No language model is available right now.") -> None:
        super().__init__(message)


class LLMTimeout(LLMUnavailable):
    """Every model that was tried ran past its timeout."""

    status_code = 504
    code = "llm_timeout"

    def __init__(self, message: str = "The language model did not answer in time.") -> None:
        super().__init__(message)


class LLMContextTooLong(LLMError):
    """The prompt does not fit the model's context window; fit_budget() should prevent this."""

    status_code = 422
    code = "llm_context_too_long"

    def __init__(self, message: str = "The conversation context is too long for the model.") -> None:
        super().__init__(message)


class LLMConfigError(LLMError):
    """infra/litellm.yaml or the local model path is wrong: an operator problem."""

    status_code = 500
    code = "llm_config_error"


class UnknownModel(LLMError):
    """The requested model group is not in infra/litellm.yaml (validate agent settings with it)."""

    status_code = 422
    code = "unknown_model"
