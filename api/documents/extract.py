"""Turn an uploaded file into clean text: the first step of the ingest pipeline.

Pure functions over bytes (no FastAPI, no DB), so the API can validate an upload
synchronously and the ingest worker can run the same code.
"""
from collections.abc import Callable

from api.core.config import get_settings
from api.documents.detect import SUPPORTED_EXTENSIONS, SUPPORTED_TYPES, detect_kind
from api.documents.errors import DocumentError, UnsupportedDocumentType
from api.documents.extracted import DocumentKind, ExtractedText, PageSpan
from api.documents.readers.docx_file import read_docx
from api.documents.readers.html_page import read_html
from api.documents.readers.json_doc import read_json
from api.documents.readers.markdown import read_markdown
from api.documents.readers.pdf import read_pdf
from api.documents.readers.text import read_plain

__all__ = [
    "SUPPORTED_EXTENSIONS", "SUPPORTED_TYPES", "DocumentError", "ExtractedText", "PageSpan",
    "UnsupportedDocumentType", "extract_text",
]

_READERS: dict[DocumentKind, Callable[[bytes, str | None], ExtractedText]] = {
    "txt": read_plain,
    "md": read_markdown,
    "html": read_html,
    "json": read_json,
    "pdf": lambda data, _charset: read_pdf(data),
    "docx": lambda data, _charset: read_docx(data),
}


def extract_text(data: bytes, content_type: str, filename: str) -> ExtractedText:
    """Extract normalized text from an upload; raises DocumentError (422) / UnsupportedDocumentType (415)."""
    if not data or not data.strip():
        raise DocumentError("The file is empty.", code="document_empty")
    kind, charset = detect_kind(data, content_type, filename)
    try:
        extracted = _READERS[kind](data, charset)
    except RecursionError as exc:  # HTML or JSON nested thousands deep: a parser's stack, not ours
        raise DocumentError("The document is nested too deeply to read.", code="document_too_deep") from exc
    limit = get_settings().max_extracted_chars
    if len(extracted.text) > limit:
        raise DocumentError(f"The document expands to more than {limit} characters of text.",
                            code="document_too_large")
    if not extracted.text:
        raise DocumentError("The document contains no text.", code="document_no_text")
    return extracted
