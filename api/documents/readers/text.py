"""Byte decoding and whitespace cleanup shared by every reader, plus plain text."""
import codecs
import re
import unicodedata

from api.documents.errors import DocumentError
from api.documents.extracted import ExtractedText

# Control characters other than tab and newline: Postgres text columns reject NUL,
# and the rest (form feeds from PDFs, stray escapes) only add noise to chunks.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_INVISIBLE = re.compile("[\u00ad\u200b\u2060\ufeff]")  # soft hyphen (PDF line breaks), zero-width chars
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u3000]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def decode(data: bytes, declared_charset: str | None = None) -> tuple[str, str]:
    """Decode text bytes and return (text, encoding used).

    Order: BOMs, then the charset the client declared, then UTF-8. Portuguese files
    saved by older Windows tools are usually cp1252 (a superset of latin-1 that also
    has curly quotes, en dashes and the euro sign); latin-1 is the last resort since
    it accepts any byte sequence.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _decode_strict(data, "utf-16"), "utf-16"
    if b"\x00" in data[:8192]:
        # UTF-8/latin-1 text never contains NUL; this is a binary file with a text name.
        raise DocumentError("The file looks binary, not text.", code="document_binary")
    candidates = [declared_charset] if declared_charset else []
    candidates += ["utf-8-sig", "cp1252", "latin-1"]
    for encoding in candidates:
        try:
            codecs.lookup(encoding)
        except LookupError:
            continue  # an unknown charset label from the client; the fallbacks still apply
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text, "utf-8" if encoding == "utf-8-sig" else encoding
    raise DocumentError("The text encoding could not be detected.", code="document_undecodable")


def _decode_strict(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise DocumentError("The text encoding could not be detected.", code="document_undecodable") from exc


def clean(text: str) -> str:
    """Normalize text so hashes, offsets and full-text search see one canonical form.

    NFC matters for Portuguese: macOS and some PDFs produce decomposed accents
    ("a" + combining tilde), which would otherwise hash and search differently.
    """
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub(" ", text)
    text = _INVISIBLE.sub("", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def read_plain(data: bytes, charset: str | None) -> ExtractedText:
    text, encoding = decode(data, charset)
    return ExtractedText(text=clean(text), kind="txt", metadata={"encoding": encoding})
