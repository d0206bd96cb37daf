"""PDF text, page by page, with each page's character span kept for citations."""
import io
import logging

from pypdf import PasswordType, PdfReader
from pypdf.errors import FileNotDecryptedError, PyPdfError

from api.documents.errors import DocumentError
from api.documents.extracted import ExtractedText, PageSpan
from api.documents.readers.text import clean

logger = logging.getLogger(__name__)

PAGE_SEPARATOR = "\n\n"


def read_pdf(data: bytes) -> ExtractedText:
    reader = _open(data)
    pages: list[PageSpan] = []
    parts: list[str] = []
    offset = 0
    empty_pages = 0
    for number, page in enumerate(reader.pages, start=1):
        page_text = clean(_page_text(page, number))
        if not page_text:
            # Scanned pages have no text layer; skip them but keep numbering true.
            empty_pages += 1
            continue
        if parts:
            parts.append(PAGE_SEPARATOR)
            offset += len(PAGE_SEPARATOR)
        pages.append(PageSpan(number=number, start=offset, end=offset + len(page_text)))
        parts.append(page_text)
        offset += len(page_text)
    if not pages:
        raise DocumentError(
            "The PDF has no extractable text (it may be scanned images; OCR is not supported).",
            code="document_no_text",
        )
    metadata: dict[str, object] = {"page_count": len(reader.pages), "pages_without_text": empty_pages}
    title = _title(reader)
    if title:
        metadata["title"] = title
    return ExtractedText(text="".join(parts), kind="pdf", pages=tuple(pages), metadata=metadata)


def _open(data: bytes) -> PdfReader:
    try:
        reader = PdfReader(io.BytesIO(data))
        # Many PDFs are "encrypted" only with an empty user password (copy protection).
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise DocumentError("The PDF is password protected.", code="document_encrypted")
        reader.pages[0]  # force parsing of the page tree so corruption surfaces here
    except FileNotDecryptedError as exc:
        raise DocumentError("The PDF is password protected.", code="document_encrypted") from exc
    except (PyPdfError, ValueError, KeyError, IndexError, TypeError, AttributeError, OSError) as exc:
        # Untrusted input: pypdf reports malformed files through many exception types.
        raise DocumentError("The PDF file is corrupt or not a PDF.", code="document_corrupt") from exc
    return reader


def _page_text(page, number: int) -> str:
    try:
        return page.extract_text() or ""
    except (PyPdfError, ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        # One broken content stream should not sink a 300-page manual; the page is
        # reported in the log and counted in metadata as a page without text.
        logger.warning("pdf page %d text extraction failed: %s", number, type(exc).__name__, exc_info=exc)
        return ""


def _title(reader: PdfReader) -> str | None:
    try:
        info = reader.metadata
    except (PyPdfError, ValueError, KeyError, TypeError) as exc:
        logger.info("pdf metadata unreadable: %s", type(exc).__name__, exc_info=exc)
        return None
    title = info.title if info else None
    return title.strip() if isinstance(title, str) and title.strip() else None
