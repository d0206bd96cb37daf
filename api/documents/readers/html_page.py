"""HTML to plain text that keeps the page's paragraph structure.

Parsed by lxml (C, linear): the standard library's html.parser needs minutes for 60 KB of
unclosed `<a ` tags.

`get_text()` alone glues block elements together ("Preços</h2><p>Plano") or splits
every inline tag onto its own line; walking the tree lets block elements become
paragraph breaks while inline elements flow as text.
"""
import re

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import PreformattedString

from api.core.config import get_settings
from api.documents.errors import DocumentError
from api.documents.extracted import ExtractedText
from api.documents.readers.text import clean, decode

# Never content: code, styling, navigation chrome, embedded media and forms.
_DROP = {"script", "style", "noscript", "template", "nav", "svg", "canvas", "iframe",
         "object", "embed", "head", "form", "button", "select", "option", "input", "textarea"}
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_BLOCKS = _HEADINGS | {
    "p", "div", "section", "article", "main", "aside", "header", "footer", "address",
    "blockquote", "pre", "ul", "ol", "dl", "dt", "dd", "figure", "figcaption", "table",
    "caption", "details", "summary", "hr", "body", "html",
}
_WHITESPACE = re.compile(r"\s+")
# Nesting deeper than this is not a page anyone reads; the tree walk would also run out of
# stack near 1,000. Checked with one regex pass (milliseconds) before BeautifulSoup spends
# a third of a second building the tree of a 5,000-deep bomb.
MAX_DEPTH = 500
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)[^<>]*?(/?)>")
# Void elements never nest; these close implicitly (lxml's HTML parser closes them too).
_NOT_NESTING = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
                "wbr", "p", "li", "dt", "dd", "tr", "td", "th", "option", "optgroup", "thead", "tbody", "tfoot",
                "colgroup", "rb", "rt", "rp", "html", "head", "body"}


def read_html(data: bytes, charset: str | None) -> ExtractedText:
    markup, encoding = decode(data, charset)
    check_markup(markup)
    soup = BeautifulSoup(markup, "lxml")
    metadata: dict[str, str] = {"encoding": encoding}
    if soup.title and soup.title.string and soup.title.string.strip():
        metadata["title"] = soup.title.string.strip()
    for tag in soup.find_all(sorted(_DROP)):
        tag.decompose()
    parts: list[str] = []
    _walk(soup, parts, preformatted=False)
    return ExtractedText(text=clean("".join(parts)), kind="html", metadata=metadata)


def _walk(node: Tag, parts: list[str], preformatted: bool) -> None:
    for child in node.children:
        if isinstance(child, PreformattedString):
            continue  # comments, doctype, processing instructions
        if isinstance(child, NavigableString):
            # Source indentation and line wrapping are not content, except inside <pre>.
            parts.append(str(child) if preformatted else _WHITESPACE.sub(" ", str(child)))
            continue
        if not isinstance(child, Tag):
            continue
        name = child.name
        if name == "br":
            parts.append("\n")
        elif name == "li":
            parts.append("\n- ")  # the next item or block supplies the line break
            _walk(child, parts, preformatted)
        elif name == "tr":
            cells = [_cell_text(cell) for cell in child.find_all(["td", "th"], recursive=False)]
            parts.append("\n" + " | ".join(cell for cell in cells if cell))
        elif name in _BLOCKS:
            # Blank lines around blocks: the chunker prefers to split at paragraph breaks.
            parts.append("\n\n")
            _walk(child, parts, preformatted or name == "pre")
            parts.append("\n\n")
        else:
            _walk(child, parts, preformatted)


def _cell_text(cell: Tag) -> str:
    return _WHITESPACE.sub(" ", cell.get_text(" ")).strip()


def check_markup(markup: str) -> None:
    """Nesting depth and tag count, in one linear pass (also run at upload time)."""
    depth, tags, max_tags = 0, 0, get_settings().max_document_elements
    for match in _TAG.finditer(markup):
        tags += 1
        if tags > max_tags:
            raise DocumentError(f"The HTML has more than {max_tags} tags.", code="document_too_large")
        closing, name, self_closing = match.groups()
        if self_closing or name.lower() in _NOT_NESTING:
            continue
        depth = max(depth - 1, 0) if closing else depth + 1
        if depth > MAX_DEPTH:
            raise DocumentError(f"The HTML is nested deeper than {MAX_DEPTH} levels.", code="document_too_deep")
