"""Word (.docx) text: paragraphs and tables in document order."""
import io
import zipfile

import docx
from docx.opc.exceptions import PackageNotFoundError
from docx.table import Table
from docx.text.paragraph import Paragraph
from lxml.etree import XMLSyntaxError

from api.documents.errors import DocumentError
from api.documents.extracted import ExtractedText
from api.documents.readers.text import clean


def read_docx(data: bytes) -> ExtractedText:
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
