"""Markdown to plain text: keep the words people search for, drop the syntax.

Regex-based on purpose: a full Markdown parser would add a dependency just to throw
its output away. Code blocks are kept verbatim (minus fences) because users ask
about the commands and snippets in their docs.

Every pattern runs in linear time on hostile input: a span's body cannot contain the
delimiter that opens it (`[^*]`, `[^\[\]]`, ...), so a match attempt that fails stops at the
next delimiter instead of rescanning the rest of the line from every start position
(`'**a ' * 8000` took seconds with `.+?`; see tests/test_hostile_documents.py).
"""
import re

from api.documents.extracted import ExtractedText
from api.documents.readers.text import clean, decode

_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n(?:---|\.\.\.)\n", re.DOTALL)
_FRONT_MATTER_TITLE = re.compile(r"^title:\s*[\"']?(.+?)[\"']?\s*$", re.MULTILINE)
_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*)$")
_CLOSING_HASHES = re.compile(r"\s#+$")
_SETEXT_OR_RULE = re.compile(r"^\s{0,3}(?:=+|-{3,}|(?:\*\s*){3,}|(?:_\s*){3,})\s*$")
_TABLE_SEPARATOR = re.compile(r"^\s*(?:\|\s*)?:?-+:?(?:[ \t]*\|[ \t]*:?-+:?)*[ \t]*(?:\|[ \t]*)?$")
_REFERENCE_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s+\S+")
_BLOCKQUOTE = re.compile(r"^\s*(?:>\s?)+")
_BULLET = re.compile(r"^(\s*)[*+]\s+")

_INLINE_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"<!--(?:[^<-]|<(?!!--)|-(?!->))*-->"), ""),
    (re.compile(r"!\[([^\[\]]*)\]\([^()]*\)"), r"\1"),  # image -> alt text
    (re.compile(r"\[([^\[\]]+)\]\([^()]*\)"), r"\1"),  # inline link -> its text
    (re.compile(r"\[([^\[\]]+)\]\[[^\[\]]*\]"), r"\1"),  # reference link -> its text
    (re.compile(r"<(https?://[^<>\s]+)>"), r"\1"),  # autolink -> url
    (re.compile(r"</?[A-Za-z][^<>]*>"), ""),  # inline HTML tags
    (re.compile(r"`([^`]+)`"), r"\1"),
    (re.compile(r"\*\*(?=\S)((?:[^*]|\*(?!\*))+?)(?<=\S)\*\*"), r"\1"),
    (re.compile(r"__(?=\S)((?:[^_]|_(?!_))+?)(?<=\S)__"), r"\1"),
    (re.compile(r"(?<![\w*])\*(?=\S)([^*]+?)(?<=\S)\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<!\w)_(?=\S)([^_]+?)(?<=\S)_(?!\w)"), r"\1"),  # not snake_case names
    (re.compile(r"~~((?:[^~]|~(?!~))+?)~~"), r"\1"),
    (re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~])"), r"\1"),  # backslash escapes
)


def read_markdown(data: bytes, charset: str | None) -> ExtractedText:
    raw, encoding = decode(data, charset)
    text = raw.replace("\r\n", "\n")
    metadata: dict[str, str] = {"encoding": encoding}
    front = _FRONT_MATTER.match(text)
    if front:
        title = _FRONT_MATTER_TITLE.search(front.group(1))
        if title:
            metadata["title"] = title.group(1)
        text = text[front.end():]
    return ExtractedText(text=clean(markdown_to_text(text)), kind="md", metadata=metadata)


def markdown_to_text(markdown: str) -> str:
    out: list[str] = []
    in_code = False
    for line in markdown.split("\n"):
        if _FENCE.match(line):
            in_code = not in_code
            continue
        if in_code:
            out.append(line)
            continue
        heading = _HEADING.match(line)
        if heading:
            # Headings become their own paragraph so the chunker splits around them.
            out.extend(["", _inline(_CLOSING_HASHES.sub("", heading.group(1).rstrip())), ""])
            continue
        if _SETEXT_OR_RULE.match(line) or _TABLE_SEPARATOR.match(line) or _REFERENCE_DEFINITION.match(line):
            continue
        line = _BULLET.sub(r"\1- ", _BLOCKQUOTE.sub("", line))
        if line.lstrip().startswith("|"):
            line = " | ".join(cell.strip() for cell in line.strip().strip("|").split("|"))
        out.append(_inline(line))
    return "\n".join(out)


def _inline(text: str) -> str:
    for pattern, replacement in _INLINE_RULES:
        text = pattern.sub(replacement, text)
    return text
