"""The result of text extraction, shared by the format readers and the chunker."""
import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

DocumentKind = Literal["txt", "md", "html", "pdf", "docx", "json"]


@dataclass(frozen=True, slots=True)
class PageSpan:
    """Where one PDF page lies in `ExtractedText.text` (half-open character range)."""

    number: int  # 1-based, as people cite pages
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class ExtractedText:
    text: str
    kind: DocumentKind
    # Only PDFs have pages; chunk offsets are mapped back to them for citations.
    pages: tuple[PageSpan, ...] = ()
    # JSON-serializable facts about the source (title, page_count, encoding, ...),
    # meant for the documents row's metadata column.
    metadata: dict[str, Any] = field(default_factory=dict)

    def page_at(self, offset: int) -> int | None:
        return page_at(self.pages, offset)


def page_at(pages: Sequence[PageSpan], offset: int) -> int | None:
    """Number of the page containing character `offset` (a separator belongs to the page before it).

    None for documents without pages.
    """
    if not pages:
        return None
    index = max(bisect.bisect_right([page.start for page in pages], offset) - 1, 0)
    return pages[index].number
