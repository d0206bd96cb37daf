"""extract_text on real files of every supported type, built in code."""
import io
import json
import zipfile

import docx
import pytest

from api.documents.chunking import chunk_document
from api.documents.extract import DocumentError, UnsupportedDocumentType, extract_text

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def make_pdf(pages: list[list[str]], *, title: str | None = None) -> bytes:
    """A real multi-page PDF (Helvetica, WinAnsi so Portuguese accents survive), with a valid xref."""

    def literal(line: str) -> bytes:
        raw = line.encode("cp1252")
        return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"

    n = len(pages)
    font_id, pages_id, first_page_id = 3, 2, 4
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        font_id: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    }
    kids = []
    for i, lines in enumerate(pages):
        page_id, content_id = first_page_id + 2 * i, first_page_id + 2 * i + 1
        kids.append(f"{page_id} 0 R".encode())
        stream = b"BT /F1 12 Tf 14 TL 72 720 Td " + b" ".join(literal(line) + b" Tj T*" for line in lines) + b" ET"
        objects[page_id] = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                            b"/Resources << /Font << /F1 3 0 R >> >> "
                            b"/Contents " + f"{content_id} 0 R".encode() + b" >>")
        objects[content_id] = b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream"
    objects[pages_id] = b"<< /Type /Pages /Kids [" + b" ".join(kids) + b"] /Count " + str(n).encode() + b" >>"
    info_id = None
    if title:
        info_id = max(objects) + 1
        objects[info_id] = b"<< /Title " + literal(title) + b" >>"
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for obj_id in sorted(objects):
        offsets[obj_id] = len(out)
        out += f"{obj_id} 0 obj\n".encode() + objects[obj_id] + b"\nendobj\n"
    xref = len(out)
    size = max(objects) + 1
    out += f"xref\n0 {size}\n0000000000 65535 f \n".encode()
    for obj_id in range(1, size):
        out += f"{offsets[obj_id]:010d} 00000 n \n".encode()
    trailer = f"<< /Size {size} /Root 1 0 R" + (f" /Info {info_id} 0 R" if info_id else "") + " >>"
    out += f"trailer\n{trailer}\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def make_docx() -> bytes:
    document = docx.Document()
    document.core_properties.title = "Política de trocas"
    document.add_heading("Política de trocas", level=1)
    document.add_paragraph("Você pode trocar o produto em até 30 dias após a entrega.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Plano", "Preço"
    table.cell(1, 0).text, table.cell(1, 1).text = "Básico", "R$ 49,90"
    document.add_paragraph("Dúvidas? Fale com o atendimento.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_plain_text_utf8_and_bom_and_cp1252_fallback():
    text = "Atenção: a devolução é grátis.\r\n\r\n\r\n\r\nSegunda   linha"
    for data in (text.encode("utf-8"), b"\xef\xbb\xbf" + text.encode("utf-8"), text.encode("cp1252"),
                 text.encode("utf-16")):
        result = extract_text(data, "text/plain", "politica.txt")
        assert result.text == "Atenção: a devolução é grátis.\n\nSegunda linha"
        assert result.kind == "txt"
    assert extract_text(text.encode("cp1252"), "text/plain", "p.txt").metadata["encoding"] == "cp1252"


def test_text_is_nfc_normalized_and_control_chars_removed():
    decomposed = "Sa\u0303o Paulo\x07 tem\u00ad muitas lojas"  # "ã" as a + combining tilde, a bell, a soft hyphen
    result = extract_text(decomposed.encode(), "text/plain; charset=utf-8", "a.txt")
    assert result.text == "São Paulo tem muitas lojas"


def test_declared_charset_is_honoured():
    result = extract_text("preço".encode("latin-1"), "text/plain; charset=ISO-8859-1", "a.txt")
    assert result.text == "preço"


def test_markdown_keeps_words_and_drops_markup():
    md = (
        "---\ntitle: Guia rápido\n---\n"
        "# Preços e planos\n\n"
        "O plano **Pro** custa *R$ 99* por mês; veja a [tabela](https://x.com/precos).\n"
        "![logo da loja](logo.png)\n\n"
        "* item um\n+ item dois\n> citação importante\n\n"
        "| Plano | Preço |\n|---|---:|\n| Pro | R$ 99 |\n\n"
        "```bash\ncurl -X POST /v1/chat\n```\n"
        "Use `snake_case_name` sem ~~erro~~.\n<div>html solto</div>\n"
    )
    result = extract_text(md.encode(), "text/plain", "guia.md")
    assert result.kind == "md"
    assert result.metadata["title"] == "Guia rápido"
    assert result.text.splitlines() == [
        "Preços e planos", "",
        "O plano Pro custa R$ 99 por mês; veja a tabela.",
        "logo da loja", "",
        "- item um", "- item dois", "citação importante", "",
        "Plano | Preço", "Pro | R$ 99", "",
        "curl -X POST /v1/chat",
        "Use snake_case_name sem erro.",
        "html solto",
    ]


def test_html_drops_chrome_and_keeps_structure():
    html = """<!doctype html><html><head><title>Loja Exemplo</title><style>p{color:red}</style></head>
    <body><nav><a href="/">Início</a><a href="/blog">Blog</a></nav>
      <script>window.tracking = 1;</script>
      <h1>Entrega</h1>
      <p>Enviamos para todo o
         Brasil em <strong>5 dias úteis</strong>.<br>Frete grátis acima de R$ 200.</p>
      <ul><li>Correios</li><li>Transportadora</li></ul>
      <table><thead><tr><th>Região</th><th>Prazo</th></tr></thead>
             <tbody><tr><td>Sul</td><td>3 dias</td></tr></tbody></table>
      <footer>Contato: (11) 4000-0000</footer></body></html>"""
    result = extract_text(html.encode(), "text/html; charset=utf-8", "entrega.html")
    assert result.metadata["title"] == "Loja Exemplo"
    assert result.text == (
        "Entrega\n\nEnviamos para todo o Brasil em 5 dias úteis.\nFrete grátis acima de R$ 200.\n\n"
        "- Correios\n- Transportadora\n\nRegião | Prazo\nSul | 3 dias\n\nContato: (11) 4000-0000"
    )


def test_pdf_pages_are_tracked_and_cited_by_chunks():
    data = make_pdf([["Capítulo 1: Introdução", "A garantia cobre defeitos de fabricação."],
                     ["Capítulo 2: Trocas", "Trocas em até 30 dias com nota fiscal."]],
                    title="Manual do cliente")
    result = extract_text(data, "application/octet-stream", "manual.pdf")
    assert result.kind == "pdf"
    assert result.metadata["page_count"] == 2
    assert result.metadata["title"] == "Manual do cliente"
    assert [page.number for page in result.pages] == [1, 2]
    first, second = (result.text[page.start:page.end] for page in result.pages)
    assert "garantia cobre defeitos" in first
    assert "Introdução" in first
    assert "Trocas em até 30 dias" in second
    chunks = chunk_document(result, chunk_tokens=12, overlap=0)
    assert {chunk.page for chunk in chunks} == {1, 2}
    assert all("Trocas em até" not in chunk.text or chunk.page_end == 2 for chunk in chunks)


def test_pdf_without_text_layer_is_rejected():
    with pytest.raises(DocumentError) as error:
        extract_text(make_pdf([[]]), "application/pdf", "scan.pdf")
    assert error.value.code == "document_no_text"
    assert error.value.status_code == 422


def test_corrupt_pdf_is_a_422_not_a_crash():
    with pytest.raises(DocumentError) as error:
        extract_text(b"%PDF-1.4\n1 0 obj garbage", "application/pdf", "broken.pdf")
    assert (error.value.status_code, error.value.code) == (422, "document_corrupt")
    with pytest.raises(DocumentError) as error:
        extract_text("só texto".encode(), "application/pdf", "fake.pdf")
    assert error.value.code == "document_corrupt"


def test_docx_paragraphs_and_tables_in_order():
    result = extract_text(make_docx(), DOCX_MIME, "trocas.docx")
    assert result.kind == "docx"
    assert result.metadata["title"] == "Política de trocas"
    assert result.text == (
        "Política de trocas\n\nVocê pode trocar o produto em até 30 dias após a entrega.\n\n"
        "Plano | Preço\nBásico | R$ 49,90\n\nDúvidas? Fale com o atendimento."
    )
    # Sniffed from the bytes even when the client says octet-stream and the name lies.
    assert extract_text(make_docx(), "application/octet-stream", "upload.bin").kind == "docx"


def test_json_article_field_and_collected_values():
    article = {"id": 7, "title": "Horário", "content": "Abrimos de segunda a sábado, das 9h às 18h."}
    result = extract_text(json.dumps(article, ensure_ascii=False).encode(), "application/json", "a.json")
    assert result.text == "Horário\n\nAbrimos de segunda a sábado, das 9h às 18h."
    faq = [{"id": "3f2b8c1e-8c7a-4e9b-9a55-0c3f6c2b1a10", "pergunta": "Aceitam Pix?",
            "resposta": "Sim, com 5% de desconto."},
           {"pergunta": "Qual o prazo?", "resposta": "Até 5 dias úteis.", "ativo": True}]
    result = extract_text(json.dumps(faq).encode(), "text/plain", "faq.json")
    assert result.kind == "json"
    assert result.text == ("pergunta: Aceitam Pix?\nresposta: Sim, com 5% de desconto.\n\n"
                           "pergunta: Qual o prazo?\nresposta: Até 5 dias úteis.")


def test_invalid_json_is_422():
    with pytest.raises(DocumentError) as error:
        extract_text(b'{"text": ', "application/json", "x.json")
    assert error.value.code == "document_corrupt"


@pytest.mark.parametrize(("data", "content_type", "filename"), [
    (b"\x89PNG\r\n\x1a\n....", "image/png", "foto.png"),
    (b"a,b\n1,2\n", "text/csv", "planilha.csv"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "application/msword", "antigo.doc"),
    (b"some bytes", "application/octet-stream", "data.bin"),
])
def test_unsupported_types_are_415(data, content_type, filename):
    with pytest.raises(UnsupportedDocumentType) as error:
        extract_text(data, content_type, filename)
    assert error.value.status_code == 415
    assert error.value.code == "unsupported_document_type"
    assert error.value.message


def test_other_zip_formats_are_415():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(UnsupportedDocumentType):
        extract_text(buffer.getvalue(), "application/octet-stream", "planilha.xlsx")


@pytest.mark.parametrize("data", [b"", b"   \n\t  ", "\u00a0".encode()])
def test_empty_content_is_422(data):
    with pytest.raises(DocumentError) as error:
        extract_text(data, "text/plain", "vazio.txt")
    assert error.value.status_code == 422
    assert error.value.code in {"document_empty", "document_no_text"}


def test_binary_content_with_text_name_is_422():
    with pytest.raises(DocumentError) as error:
        extract_text(b"abc\x00\x01\x02def", "text/plain", "notas.txt")
    assert error.value.code == "document_binary"


def _encrypted(pdf: bytes, user_password: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.encrypt(user_password=user_password, owner_password="dono", algorithm="AES-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_pdf_with_empty_user_password_is_read_and_real_password_is_422():
    pdf = make_pdf([["Conteúdo protegido contra cópia."]])
    assert "protegido" in extract_text(_encrypted(pdf, ""), "application/pdf", "a.pdf").text
    with pytest.raises(DocumentError) as error:
        extract_text(_encrypted(pdf, "segredo"), "application/pdf", "b.pdf")
    assert error.value.code == "document_encrypted"
