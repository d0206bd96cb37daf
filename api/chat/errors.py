"""Chat errors. The LLM and prompt layers raise their own exceptions (with status and a
client-safe message); chat re-raises them as DomainErrors so the global handler renders them."""
from __future__ import annotations

from api.core.errors import DomainError
from api.llm.errors import LLMError
from api.prompts.errors import PromptError


class AnswerFailed(DomainError):
    """The model or the prompt failed; says whether the customer's message is stored."""

    def __init__(self, cause: LLMError | PromptError, *, saved: bool = True, client_message_id: str | None = None):
        note = ""
        if saved:
            note = (" Your message was saved: send it again with the same client_message_id to get the answer."
                    if client_message_id else " Your message was saved.")
        super().__init__(cause.message + note, code=cause.code)
        self.status_code = cause.status_code
