"""Typed factories for document tests: real files of each type, uploads through the API, DB reads."""
from __future__ import annotations

import io
import random
import time

import docx

from tests.conftest import Tenant

_WORDS = ("cliente", "pedido", "entrega", "prazo", "troca", "devolução", "pagamento", "cartão", "boleto", "pix",
          "nota", "fiscal", "produto", "garantia", "atendimento", "horário", "frete", "reembolso", "loja",
          "estoque", "desconto", "cupom", "endereço", "transportadora", "rastreamento", "embalagem", "defeito")


def paragraphs(n: int, seed: int = 7, words: int = 150) -> str:
    """n distinct Portuguese-looking paragraphs of about `words` words (roughly one chunk each)."""
    rng = random.Random(seed)
    return "\n\n".join(f"Seção {i + 1}. " + " ".join(rng.choice(_WORDS) for _ in range(words)) + "."
                       for i in range(n))


def make_pdf(lines: list[str]) -> bytes:
    """A one-page PDF with a real text layer (Helvetica, WinAnsi so accents survive)."""
    def literal(line: str) -> bytes:
        raw = line.encode("cp1252")
        return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"
    stream = b"BT /F1 12 Tf 14 TL 72 720 Td " + b" ".join(literal(line) + b" Tj T*" for line in lines) + b" ET"
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> "
               b"/Contents 4 0 R >>",
               b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def make_docx(paragraph_texts: list[str]) -> bytes:
    document = docx.Document()
    for text in paragraph_texts:
        document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def create_kb(client, tenant: Tenant, name: str = "Docs", language: str = "portuguese") -> dict:
    resp = client.post("/v1/knowledge-bases", json={"name": name, "language": language}, headers=tenant.headers)
    assert resp.status_code == 201, resp.text
    return resp.json()


def upload(client, tenant: Tenant, kb_id: str, filename: str, data: bytes, content_type: str, **form):
    """POST a multipart upload; returns the raw response."""
    return client.post(f"/v1/knowledge-bases/{kb_id}/documents", headers=tenant.headers,
                       files={"file": (filename, data, content_type)}, data=form)


def wait_done(client, tenant: Tenant, doc_id: str, timeout: float = 60, seen: list | None = None) -> dict:
    """Poll GET /v1/documents/{id} until ready or failed; `seen` collects (status, progress) on the way."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc = client.get(f"/v1/documents/{doc_id}", headers=tenant.headers).json()
        if seen is not None and (not seen or seen[-1] != (doc["status"], doc["progress"])):
            seen.append((doc["status"], doc["progress"]))
        if doc["status"] in ("ready", "failed"):
            return doc
        time.sleep(0.1)
    raise AssertionError(f"document {doc_id} still {doc['status']} after {timeout}s")


def chunk_rows(admin_conn, doc_id: str) -> list[tuple]:
    """(ordinal, document_version, embedding_dim, vector dims, fts_config, tags, source, page, content)."""
    return admin_conn.execute(
        "select ordinal, document_version, embedding_dim, vector_dims(embedding), fts_config::text, tags, source, "
        "page, content from public.document_chunks where document_id = %s order by ordinal", [doc_id]).fetchall()
