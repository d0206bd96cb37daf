"""Documents end to end: upload through the API, a real Celery worker, chunks checked in SQL."""
import hashlib
import json
import uuid

from api.core.config import get_settings
from tests.support.documents import chunk_rows, create_kb, make_docx, make_pdf, paragraphs, upload, wait_done

SAMPLES = {
    "faq.txt": (b"Trocas: voce pode trocar o produto em ate 30 dias.\n\nFrete gratis acima de R$ 200.", "text/plain"),
    "guia.md": ("# Guia\n\n**Prazo de entrega**: 5 dias úteis para capitais.".encode(), "text/markdown"),
    "page.html": ("<html><body><h1>Horário</h1><p>Atendimento das 8h às 18h.</p></body></html>".encode(),
                  "text/html"),
    "manual.pdf": (make_pdf(["Garantia de 12 meses contra defeitos.", "Guarde a nota fiscal."]), "application/pdf"),
    "politica.docx": (make_docx(["Política de reembolso", "O reembolso sai em até 7 dias no cartão."]),
                      "application/octet-stream"),
    "faq.json": (json.dumps([{"question": "Aceitam pix?", "answer": "Sim, com 5% de desconto."}]).encode(),
                 "application/json"),
}


def test_every_type_is_processed_to_ready_with_chunks(client, new_tenant, celery_worker, admin_conn):
    t = new_tenant()
    kb = create_kb(client, t, language="english")
    ids = {}
    for name, (data, ctype) in SAMPLES.items():
        resp = upload(client, t, kb["id"], name, data, ctype, tags="faq, loja", source="crm",
                      metadata=json.dumps({"lang": "pt"}))
        assert resp.status_code == 201, (name, resp.text)
        body = resp.json()
        assert body["status"] == "queued"
        assert body["version"] == 1
        assert body["filename"] == name
        assert body["sha256"] == hashlib.sha256(data).hexdigest()
        assert body["tags"] == ["faq", "loja"]
        assert resp.headers["location"] == f"/v1/documents/{body['id']}"
        ids[name] = body["id"]
    text = client.post(f"/v1/knowledge-bases/{kb['id']}/documents/text", headers=t.headers,
                       json={"title": "Nota", "text": "Cupom BEMVINDO dá 10% na primeira compra.", "tags": ["x"]})
    assert text.status_code == 201, text.text
    ids["text"] = text.json()["id"]
    assert text.json()["content_type"] == "text/plain; charset=utf-8"
    assert text.json()["source"] == "api"
    for name, doc_id in ids.items():
        doc = wait_done(client, t, doc_id)
        assert doc["status"] == "ready", (name, doc["error"])
        rows = chunk_rows(admin_conn, doc_id)
        assert doc["chunk_count"] == len(rows) >= 1
        assert doc["progress"] == 1
        assert doc["processed_at"]
        for ordinal, version, dim, dims, fts, tags, source, page, _ in rows:
            assert (version, dim, dims, fts) == (1, 384, 384, "english")
            if name != "text":
                assert (tags, source) == (["faq", "loja"], "crm")
        assert (rows[0][7] == 1) == (name == "manual.pdf")  # only PDFs have pages
    assert "Garantia de 12 meses" in chunk_rows(admin_conn, ids["manual.pdf"])[0][8]
    assert "reembolso sai em até 7 dias" in chunk_rows(admin_conn, ids["politica.docx"])[0][8]
    # One content_version bump per document that became ready (search caches go stale).
    kb_now = client.get(f"/v1/knowledge-bases/{kb['id']}", headers=t.headers).json()
    assert kb_now["content_version"] == kb["content_version"] + len(ids)


def test_status_and_progress_are_visible_through_the_api(client, new_tenant, celery_worker):
    t = new_tenant()
    kb = create_kb(client, t)
    resp = upload(client, t, kb["id"], "longo.txt", paragraphs(3).encode(), "text/plain")
    assert resp.status_code == 201
    seen = [("queued", 0.0)]
    doc = wait_done(client, t, resp.json()["id"], seen=seen)
    assert doc["status"] == "ready"
    assert doc["attempts"] == 1
    assert doc["error"] is None
    assert doc["chunk_count"] >= 2
    order = {"queued": 0, "processing": 1, "ready": 2}
    assert [order[s] for s, _ in seen] == sorted(order[s] for s, _ in seen), seen
    assert [p for _, p in seen] == sorted(p for _, p in seen)
    assert seen[-1] == ("ready", 1.0)


def test_upload_errors(client, new_tenant, monkeypatch):
    t = new_tenant()
    kb = create_kb(client, t)
    base = f"/v1/knowledge-bases/{kb['id']}/documents"

    def code(resp, status):
        assert resp.status_code == status, resp.text
        return resp.json()["error"]["code"]

    monkeypatch.setattr(get_settings(), "max_upload_bytes", 1000)
    assert code(upload(client, t, kb["id"], "big.txt", b"a" * 1001, "text/plain"), 413) == "payload_too_large"
    assert code(upload(client, t, kb["id"], "huge.txt", b"a" * 400_000, "text/plain"), 413) == "payload_too_large"
    # Declared length far over the limit: refused before the form is parsed (else: 422, no file).
    assert code(client.post(base, headers=t.headers, data={"title": "x" * 400_000}), 413)
    assert code(client.post(base + "/text", json={"title": "t", "text": "a" * 1001}, headers=t.headers), 413)
    monkeypatch.undo()

    assert code(upload(client, t, kb["id"], "x.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "image/png"), 415) \
        == "unsupported_document_type"
    assert code(upload(client, t, kb["id"], "data.csv", b"a,b\n1,2\n", "text/csv"), 415)
    assert code(upload(client, t, kb["id"], "empty.txt", b"  \n", "text/plain"), 422) == "document_empty"
    assert code(upload(client, t, kb["id"], "bad.json", b'{"a": ', "application/json"), 422) == "document_corrupt"
    assert code(upload(client, t, kb["id"], "fake.pdf", b"not a pdf at all", "application/pdf"), 422)
    assert code(upload(client, t, kb["id"], "ok.txt", b"ok", "text/plain", metadata="[1]"), 422)
    assert code(upload(client, t, kb["id"], "ok.txt", b"ok", "text/plain", tags=",".join(map(str, range(51)))), 422)
    assert code(client.post(base + "/text", json={"title": "t", "text": ""}, headers=t.headers), 422)
    assert code(client.post(base, headers=t.headers, data={"title": "no file"}), 422)

    other = new_tenant("Other")
    other_kb = create_kb(client, other)
    for kb_id in (other_kb["id"], str(uuid.uuid4())):
        assert code(upload(client, t, kb_id, "a.txt", b"hello", "text/plain"), 404) == "not_found"
        assert code(client.get(f"/v1/knowledge-bases/{kb_id}/documents", headers=t.headers), 404)
    for method in ("get", "delete"):
        assert code(getattr(client, method)(f"/v1/documents/{uuid.uuid4()}", headers=t.headers), 404)
    assert client.get(base, headers=t.headers).json()["data"] == []


def test_replacing_content_swaps_all_chunks_to_the_new_version(client, new_tenant, celery_worker, admin_conn):
    t = new_tenant()
    kb = create_kb(client, t)
    first = upload(client, t, kb["id"], "v1.txt", paragraphs(3, seed=1).encode(), "text/plain").json()
    assert wait_done(client, t, first["id"])["status"] == "ready"
    new_text = paragraphs(2, seed=2) + "\n\nVersão nova do documento."
    resp = client.put(f"/v1/documents/{first['id']}/content", headers=t.headers, data={"title": "Nova"},
                      files={"file": ("v2.md", new_text.encode(), "text/markdown")})
    assert resp.status_code == 202, resp.text
    assert (resp.json()["version"], resp.json()["status"], resp.json()["title"]) == (2, "queued", "Nova")
    doc = wait_done(client, t, first["id"])
    assert doc["status"] == "ready"
    assert doc["filename"] == "v2.md"
    rows = chunk_rows(admin_conn, first["id"])
    assert {r[1] for r in rows} == {2}
    assert len(rows) == doc["chunk_count"]
    assert [r[0] for r in rows] == list(range(len(rows)))  # no duplicate ordinals
    assert "Versão nova" in rows[-1][8]
    versions = admin_conn.execute("select version from public.document_contents where document_id = %s",
                                  [first["id"]]).fetchall()
    assert versions == [(2,)]
    same = client.put(f"/v1/documents/{first['id']}/content", headers=t.headers,
                      files={"file": ("v2.md", new_text.encode(), "text/markdown")})
    assert same.status_code == 200
    assert same.json()["version"] == 2
    assert same.json()["status"] == "ready"


def test_same_bytes_in_the_same_kb_return_the_existing_document(client, new_tenant, celery_worker):
    t = new_tenant()
    kb, kb2 = create_kb(client, t, "one"), create_kb(client, t, "two")
    data = "Entregamos em todo o Brasil.".encode()
    first = upload(client, t, kb["id"], "a.txt", data, "text/plain", title="A")
    again = upload(client, t, kb["id"], "b.txt", data, "text/plain", title="B")
    as_text = client.post(f"/v1/knowledge-bases/{kb['id']}/documents/text", headers=t.headers,
                          json={"title": "C", "text": data.decode()})
    assert first.status_code == 201
    assert again.status_code == 200
    assert as_text.status_code == 200
    assert first.json()["id"] == again.json()["id"] == as_text.json()["id"]
    assert again.json()["title"] == "A"
    elsewhere = upload(client, t, kb2["id"], "a.txt", data, "text/plain")
    assert elsewhere.status_code == 201
    assert elsewhere.json()["id"] != first.json()["id"]
    listed = client.get(f"/v1/knowledge-bases/{kb['id']}/documents", headers=t.headers).json()["data"]
    assert [d["id"] for d in listed] == [first.json()["id"]]
    for doc in (first.json(), elsewhere.json()):
        assert wait_done(client, t, doc["id"])["status"] == "ready"


def test_delete_removes_document_file_and_chunks(client, new_tenant, celery_worker, admin_conn):
    t = new_tenant()
    kb = create_kb(client, t)
    doc = upload(client, t, kb["id"], "a.txt", b"Loja aberta aos domingos.", "text/plain").json()
    assert wait_done(client, t, doc["id"])["status"] == "ready"
    assert chunk_rows(admin_conn, doc["id"])
    before = client.get(f"/v1/knowledge-bases/{kb['id']}", headers=t.headers).json()["content_version"]
    assert client.delete(f"/v1/documents/{doc['id']}", headers=t.headers).status_code == 204
    assert client.get(f"/v1/documents/{doc['id']}", headers=t.headers).status_code == 404
    assert client.delete(f"/v1/documents/{doc['id']}", headers=t.headers).status_code == 404
    assert chunk_rows(admin_conn, doc["id"]) == []
    assert admin_conn.execute("select count(*) from public.document_contents where document_id = %s",
                              [doc["id"]]).fetchone()[0] == 0
    assert client.get(f"/v1/knowledge-bases/{kb['id']}", headers=t.headers).json()["content_version"] == before + 1


def test_unreadable_file_fails_with_reason_and_reprocess_queues_again(client, new_tenant, celery_worker,
                                                                       admin_conn):
    t = new_tenant()
    kb = create_kb(client, t)
    # Right magic bytes, nothing readable inside: only the worker's full parse can tell.
    broken = upload(client, t, kb["id"], "broken.pdf", b"%PDF-1.4\n" + b"\x00garbage" * 50, "application/pdf")
    assert broken.status_code == 201, broken.text
    doc = wait_done(client, t, broken.json()["id"])
    assert doc["status"] == "failed"
    assert doc["attempts"] == 1
    assert doc["chunk_count"] == 0
    assert "PDF" in doc["error"]
    assert "Traceback" not in doc["error"]
    again = client.post(f"/v1/documents/{doc['id']}/reprocess", headers=t.headers)
    assert again.status_code == 202
    assert again.json()["status"] == "queued"
    assert again.json()["error"] is None
    assert wait_done(client, t, doc["id"])["status"] == "failed"

    good = upload(client, t, kb["id"], "ok.txt", b"Parcelamos em 3x sem juros.", "text/plain").json()
    assert wait_done(client, t, good["id"])["status"] == "ready"
    admin_conn.execute("update public.documents set status = 'processing' where id = %s", [good["id"]])
    busy = client.post(f"/v1/documents/{good['id']}/reprocess", headers=t.headers)
    assert busy.status_code == 409
    assert busy.json()["error"]["code"] == "conflict"
    admin_conn.execute("update public.documents set status = 'ready' where id = %s", [good["id"]])
    assert client.post(f"/v1/documents/{good['id']}/reprocess", headers=t.headers).status_code == 202
    assert wait_done(client, t, good["id"])["status"] == "ready"

    failed = client.get(f"/v1/knowledge-bases/{kb['id']}/documents?status=failed", headers=t.headers).json()
    assert [d["id"] for d in failed["data"]] == [doc["id"]]
    first = client.get(f"/v1/knowledge-bases/{kb['id']}/documents?limit=1", headers=t.headers).json()
    assert first["data"][0]["id"] == good["id"]
    assert first["next_cursor"]
    rest = client.get(f"/v1/knowledge-bases/{kb['id']}/documents?limit=1&cursor={first['next_cursor']}",
                      headers=t.headers).json()
    assert [d["id"] for d in rest["data"]] == [doc["id"]]
    assert rest["next_cursor"] is None
    assert client.get(f"/v1/knowledge-bases/{kb['id']}/documents?status=nope", headers=t.headers).status_code == 422
