"""Domain errors for document processing.

Each error is a DomainError (api/core/errors.py): it carries `status_code`, `code` and a
client-safe `message`, so nothing here imports FastAPI and workers can raise the same errors.
"""
from api.core.errors import DomainError


class DocumentError(DomainError):
    """The uploaded content cannot be turned into text (corrupt, empty, undecodable)."""

    status_code: int = 422
    code: str = "document_invalid"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        # `message` is shown to API clients: never put parser internals or str(exc) in it.
        self.message = message
        if code is not None:
            self.code = code


class UnsupportedDocumentType(DocumentError):
    """Neither the declared type, the file extension nor the bytes match a supported format."""

    status_code = 415
    code = "unsupported_document_type"
