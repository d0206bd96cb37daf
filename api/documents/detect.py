"""Decide which reader handles an upload: the bytes first, then the declared type, then the name.

Browsers and HTTP clients are unreliable about Content-Type (curl sends
application/octet-stream, Windows sends text/plain for .md), while PDF and DOCX
files identify themselves, so magic bytes win when they are present.
"""
import io
import posixpath
import zipfile

from api.documents.errors import DocumentError, UnsupportedDocumentType
from api.documents.extracted import DocumentKind

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

SUPPORTED_TYPES: dict[str, DocumentKind] = {
    "text/plain": "txt",
    "text/markdown": "md",
    "text/x-markdown": "md",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
    DOCX_MIME: "docx",
    "application/json": "json",
    "text/json": "json",
}
SUPPORTED_EXTENSIONS: dict[str, DocumentKind] = {
    ".txt": "txt", ".text": "txt",
    ".md": "md", ".markdown": "md",
    ".html": "html", ".htm": "html", ".xhtml": "html",
    ".pdf": "pdf",
    ".docx": "docx",
    ".json": "json",
}
# Types that say nothing about the content; the extension decides instead.
_GENERIC_TYPES = {"", "application/octet-stream", "binary/octet-stream", "application/x-download"}
_BINARY_KINDS: frozenset[str] = frozenset({"pdf", "docx"})
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .doc/.xls/.ppt
_OTHER_BINARY = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"\x1f\x8b", b"Rar!", b"7z\xbc\xaf", b"\x7fELF")


def detect_kind(data: bytes, content_type: str | None, filename: str | None) -> tuple[DocumentKind, str | None]:
    """Return the document kind and the charset declared in Content-Type (if any)."""
    mime, charset = _parse_content_type(content_type or "")
    extension = posixpath.splitext((filename or "").replace("\\", "/").lower())[1]
    declared = SUPPORTED_TYPES.get(mime)
    by_name = SUPPORTED_EXTENSIONS.get(extension)

    sniffed = _sniff(data)
    if sniffed is not None:
        return sniffed, None
    kind = declared
    if kind is None and (mime in _GENERIC_TYPES or mime.startswith("text/")):
        kind = by_name
    if kind == "txt" and by_name in ("md", "html", "json"):
        kind = by_name  # text/plain is what many clients send for any text file
    if kind is None:
        raise UnsupportedDocumentType(_unsupported_message(mime, extension))
    if kind in _BINARY_KINDS:
        # Claimed PDF/DOCX by type or name, but the magic bytes are missing.
        raise DocumentError(f"The file is not a valid {kind.upper()} document.", code="document_corrupt")
    return kind, charset


def _parse_content_type(content_type: str) -> tuple[str, str | None]:
    mime, *params = (part.strip() for part in content_type.split(";"))
    charset = None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"').lower()
    return mime.lower(), charset


def _sniff(data: bytes) -> DocumentKind | None:
    """Kind from magic bytes for binary formats; None for text (or unknown) content."""
    # The PDF spec allows junk before the header within the first 1024 bytes.
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        # A name flagged UTF-8 that is not raises UnicodeDecodeError; a damaged directory, ValueError.
        except (zipfile.BadZipFile, ValueError, EOFError) as exc:
            raise DocumentError("The file is a corrupt ZIP/DOCX archive.", code="document_corrupt") from exc
        if "word/document.xml" in names:
            return "docx"
        raise UnsupportedDocumentType(
            "ZIP archives and Office formats other than .docx (e.g. .xlsx, .pptx, .odt) are not supported."
        )
    if data.startswith(_OLE2):
        raise UnsupportedDocumentType("Legacy Office files (.doc) are not supported; save the file as .docx.")
    if data.startswith(_OTHER_BINARY):
        raise UnsupportedDocumentType("Images, archives and executables are not supported.")
    return None


def _unsupported_message(mime: str, extension: str) -> str:
    what = (mime or extension or "unknown")[:100]  # echo of client input: keep it short
    return f"Unsupported document type '{what}'. Supported: {', '.join(sorted(SUPPORTED_EXTENSIONS))}."
