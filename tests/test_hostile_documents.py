"""Hostile documents: parsing is linear, nesting and expansion are bounded, and what cannot be
read is a DocumentError (422 at upload, `failed` in the worker), never a crash or a stall.

The markdown cases carry a pytest timeout as a tripwire only: the old patterns needed seconds
for 32 KB and about an hour for 1 MB; speed itself is measured in bench/hostile.py."""
from __future__ import annotations

import io
import zipfile

import pytest

from api.core.config import get_settings
from api.documents.errors import DocumentError
from api.documents.extract import extract_text
from api.documents.readers.docx_file import read_docx
from api.documents.readers.markdown import markdown_to_text
from tests.support.documents import create_kb, make_docx, upload

# One line each, 1 MB: every inline pattern's worst case (an opener that never closes).
WORST_MARKDOWN = {
    "bold": "**a ", "italic": "*a ", "underscore": "_a ", "dunder": "__a ", "strike": "~~a ",
    "comment": "<!--", "image": "![a](", "link": "[a](", "reference": "[a][", "tag": "<a ",
    "autolink": "<http://", "code": "`a", "mixed": "**[a](*_`~~<!--",
}


@pytest.mark.timeout(20)
@pytest.mark.parametrize("name", sorted(WORST_MARKDOWN))
def test_markdown_patterns_are_linear_on_a_1mb_line(name):
    line = WORST_MARKDOWN[name] * (1_000_000 // len(WORST_MARKDOWN[name]))
    assert markdown_to_text(line)


@pytest.mark.timeout(20)
@pytest.mark.parametrize("line", ["# a" + " " * 500_000 + "b", "---" + " " * 500_000 + "x",
                                  " " * 500_000 + "x", "|" + " |---" * 200_000 + " x"])
def test_markdown_block_patterns_are_linear(line):
    markdown_to_text(line)


def test_markdown_still_reads_what_people_write():
    text = markdown_to_text("# Prazos ##\n**Troca em *7 dias* úteis** e __frete__ _grátis_ ~~antes~~ "
                            "[aqui](http://x) ![foto](f.png) <b>já</b> `cupom` <!-- nota --> snake_case_name\n"
                            "|a|b|\n|---|:-:|\n|1|2|")
    assert text.split("\n") == ["", "Prazos", "", "Troca em 7 dias úteis e frete grátis antes aqui foto já cupom  "
                                "snake_case_name", "a | b", "1 | 2"]


def test_deep_html_is_a_document_error():
    html = ("<div>" * 5_000 + "texto" + "</div>" * 5_000).encode()
    with pytest.raises(DocumentError) as err:
        extract_text(html, "text/html", "deep.html")
    assert err.value.code == "document_too_deep"


@pytest.mark.timeout(30)
@pytest.mark.parametrize("soup", ["<a " * 80_000, "<a" + " x" * 120_000, '<a b="' * 40_000, "<!--" * 60_000,
                                  "<" * 250_000])
def test_html_tag_soup_is_read_in_linear_time(soup):
    """html.parser needed 115 s for 60 KB of `<a `; lxml reads each of these in milliseconds."""
    try:
        extract_text(soup.encode(), "text/html", "soup.html")  # '<<<' is text to lxml
    except DocumentError as err:
        assert err.code == "document_no_text"


def test_html_tag_count_is_capped(monkeypatch):
    monkeypatch.setattr(get_settings(), "max_document_elements", 1_000)
    with pytest.raises(DocumentError) as err:
        extract_text(("<p>a" * 2_000).encode(), "text/html", "dense.html")
    assert err.value.code == "document_too_large"
    assert "a" in extract_text(("<p>a" * 500).encode(), "text/html", "ok.html").text


def test_zip_name_flagged_utf8_that_is_not_is_a_document_error():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    data = bytearray(buffer.getvalue())
    # Flag every entry's name as UTF-8 (general purpose bit 11) and make the name invalid UTF-8.
    for signature, flag_at, name_at in ((b"PK\x03\x04", 6, 30), (b"PK\x01\x02", 8, 46)):
        at = data.find(signature)
        data[at + flag_at + 1] |= 0x08
        data[at + name_at] = 0xFF
    with pytest.raises(DocumentError) as err:
        extract_text(bytes(data), "application/octet-stream", "x.docx")
    assert err.value.code == "document_corrupt"


def _docx_bomb(paragraphs: int) -> bytes:
    """A small .docx whose document.xml holds `paragraphs` empty paragraphs (compresses ~600:1)."""
    source = zipfile.ZipFile(io.BytesIO(make_docx(["x"])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "word/document.xml":
                data = data.replace(b"<w:body>", b"<w:body>" + b"<w:p/>" * paragraphs, 1)
            archive.writestr(info.filename, data)
    return out.getvalue()


def test_docx_bomb_is_refused_before_it_is_parsed():
    bomb = _docx_bomb(1_000_000)
    assert len(bomb) < 64 * 1024
    with pytest.raises(DocumentError) as err:
        read_docx(bomb)
    assert err.value.code == "document_too_large"
    assert "x" in read_docx(_docx_bomb(1_000)).text  # an ordinary document still reads


def test_extracted_text_is_capped(monkeypatch):
    monkeypatch.setattr(get_settings(), "max_extracted_chars", 1_000)
    with pytest.raises(DocumentError) as err:
        extract_text(b"palavra " * 500, "text/plain", "big.txt")
    assert err.value.code == "document_too_large"


def test_hostile_uploads_are_answered_at_once(client, new_tenant):
    """At upload time: the 32 KB markdown bomb is accepted (it reads in milliseconds now), deep
    HTML and the corrupt ZIP are 422, and nothing is a 500."""
    t = new_tenant()
    kb = create_kb(client, t)
    bomb = upload(client, t, kb["id"], "bomb.md", ("**a " * 8_000).encode(), "text/markdown")
    assert bomb.status_code == 201
    client.delete(f"/v1/documents/{bomb.json()['id']}", headers=t.headers)  # keep the shared worker free
    deep = upload(client, t, kb["id"], "deep.html", ("<div>" * 5_000 + "x").encode(), "text/html")
    assert (deep.status_code, deep.json()["error"]["code"]) == (422, "document_too_deep")
