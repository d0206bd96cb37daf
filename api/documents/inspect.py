"""Checks an upload before it is accepted: size, type, and that text formats really read.

Runs at upload time so a client learns at once (413/415/422) that a file can never be
processed, without spending more than milliseconds of interpreter time on one upload (every
request of the API shares it): plain text and JSON up to FULL_READ_BYTES are read completely
(decoding, cleanup and json.loads run at C speed); markdown and HTML are decoded and HTML's
nesting checked, but turning markup into text (a regex pass per line, a tree of every
element: seconds for a dense 256 KB page) is the worker's; PDF and DOCX are only identified
by their bytes. A file that is damaged inside ends as status `failed` with the reason once
the worker has read it.
"""
import hashlib
import posixpath
from dataclasses import dataclass

from api.core.errors import PayloadTooLarge
from api.documents.detect import SUPPORTED_TYPES, detect_kind
from api.documents.errors import DocumentError
from api.documents.extract import extract_text
from api.documents.readers.html_page import check_markup
from api.documents.readers.text import decode

FULL_READ_BYTES = 256 * 1024  # a regex call over this much text holds the interpreter lock a few ms at most

# The content type stored for a kind when the client sent a generic one (octet-stream).
CANONICAL_TYPES = {"txt": "text/plain", "md": "text/markdown", "html": "text/html", "json": "application/json",
                   "pdf": "application/pdf",
                   "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}


@dataclass(frozen=True)
class Inspected:
    content_type: str  # what the worker will pass to extract_text (declared charset kept)
    filename: str | None
    sha256: str
    size_bytes: int


def clean_filename(filename: str | None) -> str | None:
    """The base name only: clients send full Windows or POSIX paths."""
    if not filename:
        return None
    name = posixpath.basename(filename.replace("\\", "/")).strip()
    return name[:255] or None


def inspect_upload(data: bytes, content_type: str | None, filename: str | None, max_bytes: int) -> Inspected:
    """Raise PayloadTooLarge (413), UnsupportedDocumentType (415) or DocumentError (422)."""
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"the file is larger than the {max_bytes}-byte limit")
    if not data.strip():
        raise DocumentError("The file is empty.", code="document_empty")
    name = clean_filename(filename)
    kind, charset = detect_kind(data, content_type, name)
    if kind in ("txt", "json") and len(data) <= FULL_READ_BYTES:
        extract_text(data, content_type or "", name or "")  # C-speed: decode, clean, json.loads
    elif kind in ("txt", "json", "md", "html"):
        text, _ = decode(data, charset)  # binary or undecodable: still a 422 now
        if kind == "html" and len(data) <= FULL_READ_BYTES:
            check_markup(text)  # nesting bombs are refused now; building the tree is the worker's job
    mime = (content_type or "").split(";")[0].strip().lower()
    if SUPPORTED_TYPES.get(mime) == kind:
        stored_type = content_type.strip()
    else:  # generic or mismatched type: store one that makes the worker read the bytes the same way
        stored_type = CANONICAL_TYPES[kind] + (f"; charset={charset}" if charset else "")
    return Inspected(content_type=stored_type, filename=name,
                     sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data))
