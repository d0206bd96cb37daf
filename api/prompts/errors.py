"""Prompt errors carry their HTTP status (422): a bad template or inputs is a client/config error."""
from __future__ import annotations

from api.core.errors import DomainError


class PromptError(DomainError):
    status_code = 422
    code = "prompt_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.code
