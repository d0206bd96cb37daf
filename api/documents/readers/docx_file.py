"""Word (.docx) text: paragraphs and tables in document order."""
import io
import zipfile
import zlib

import docx
from docx.opc.exceptions import PackageNotFoundError
from docx.table import Table
from docx.text.paragraph import Paragraph
from lxml.etree import XMLSyntaxError

from api.core.config import get_settings
from api.documents.errors import DocumentError
from api.documents.extracted import ExtractedText
from api.documents.readers.text import clean


def read_docx(data: bytes) -> ExtractedText:
    _check_expansion(data)
    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, XMLSyntaxError, KeyError, ValueError) as exc:
        raise DocumentError("The Word file is corrupt or not a .docx document.", code="document_corrupt") from exc
    blocks: list[str] = []
    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            if item.text.strip():
                blocks.append(item.text)
        elif isinstance(item, Table):
            table_text = _table_text(item)
            if table_text:
                blocks.append(table_text)
    metadata: dict[str, str] = {}
    title = document.core_properties.title
    if title and title.strip():
        metadata["title"] = title.strip()
    return ExtractedText(text=clean("\n\n".join(blocks)), kind="docx", metadata=metadata)


def _table_text(table: Table) -> str:
    """One line per row, cells joined by " | ", so a row stays together in a chunk."""
    rows: list[str] = []
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:
            text = " ".join(cell.text.split())
            # A merged cell is returned once per grid column it spans; keep one copy.
            if text and (not cells or cells[-1] != text):
                cells.append(text)
        if cells:
            rows.append(" | ".join(cells))
    return "\n".join(rows)


def _check_expansion(data: bytes) -> None:
    """Refuse a zip bomb before python-docx builds a tree of it: a 10 KB .docx can unzip to
    1M empty paragraphs (6 MB of XML, 12-70 s and ~280 MB in the reader). The sizes in the
    zip directory bind: zipfile never reads more than an entry declares."""
    settings = get_settings()
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            total = sum(info.file_size for info in archive.infolist())
            if total > settings.max_decompressed_bytes:
                raise DocumentError(f"The Word file unzips to more than {settings.max_decompressed_bytes} bytes.",
                                    code="document_too_large")
            xml = archive.read("word/document.xml")
    except (zipfile.BadZipFile, KeyError, ValueError, EOFError, NotImplementedError, zlib.error) as exc:
        raise DocumentError("The Word file is corrupt or not a .docx document.", code="document_corrupt") from exc
    if xml.count(b"<") > settings.max_document_elements:
        raise DocumentError(f"The Word file has more than {settings.max_document_elements} XML tags.",
                            code="document_too_large")
