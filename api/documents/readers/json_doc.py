"""JSON to text: the document's own text field when it has one, else its string values.

Typical uploads are an exported article ({"title", "content"}), a FAQ list
([{"question", "answer"}]) or a product catalogue. Keys are kept next to short values
("preço: R$ 10" retrieves better than a bare "R$ 10"); UUIDs and hex ids are
dropped because they only dilute embeddings. Numbers and booleans are skipped.
"""
import json
import re
from typing import Any

from api.documents.errors import DocumentError
from api.documents.extracted import ExtractedText
from api.documents.readers.text import clean, decode

# A top-level object whose body lives in one of these fields is treated as an article.
TEXT_FIELDS = ("text", "content", "body", "markdown")
_TITLE_FIELDS = ("title", "name", "subject")
_MACHINE_VALUE = re.compile(
    r"^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{24,})$", re.IGNORECASE
)
_MAX_DEPTH = 50  # deeper nesting is not a document; also keeps recursion bounded


def read_json(data: bytes, charset: str | None) -> ExtractedText:
    raw, encoding = decode(data, charset)
    try:
        value = json.loads(raw)
    except RecursionError as exc:
        raise DocumentError("The JSON document is nested too deeply.", code="document_too_deep") from exc
    except json.JSONDecodeError as exc:
        raise DocumentError("The JSON file is not valid JSON.", code="document_corrupt") from exc
    metadata: dict[str, str] = {"encoding": encoding}
    if isinstance(value, dict):
        title = next((value[k] for k in _TITLE_FIELDS if isinstance(value.get(k), str)), None)
        if title and title.strip():
            metadata["title"] = title.strip()
        body = next((value[k] for k in TEXT_FIELDS if isinstance(value.get(k), str) and value[k].strip()), None)
        if body is not None:
            text = f"{title.strip()}\n\n{body}" if title and title.strip() else body
            return ExtractedText(text=clean(text), kind="json", metadata=metadata)
    blocks: list[str] = []
    _collect(value, blocks, key=None, depth=0)
    return ExtractedText(text=clean("\n".join(blocks)), kind="json", metadata=metadata)


def _collect(value: Any, out: list[str], key: str | None, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise DocumentError("The JSON document is nested too deeply.", code="document_too_deep")
    if isinstance(value, str):
        text = value.strip()
        if text and not _MACHINE_VALUE.match(text):
            labelled = key and key not in TEXT_FIELDS and "\n" not in text and len(text) < 120
            out.append(f"{key}: {text}" if labelled else text)
    elif isinstance(value, dict):
        for child_key, child in value.items():
            _collect(child, out, key=str(child_key), depth=depth + 1)
        out.append("")  # blank line between objects: one FAQ entry / product per paragraph
    elif isinstance(value, list):
        for child in value:
            _collect(child, out, key=key, depth=depth + 1)
