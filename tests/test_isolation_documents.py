"""Tenant isolation for documents: org A's credentials reach nothing of org B's documents.

Every documents endpoint is tried with A's user token and A's API key against B's knowledge
base and document; then the same rows are looked for in SQL as the API role (`renum_api`) with A's claims.
"""
import uuid

import psycopg
import pytest

from tests.support.documents import chunk_rows, create_kb, upload, wait_done
from tests.support.isolation import as_user

B_SECRET = "Segredo da empresa B: margem de 42% no plano premium."


@pytest.fixture
def b_document(client, new_tenant, celery_worker, admin_conn):
    a, b = new_tenant("A"), new_tenant("B")
    b_kb = create_kb(client, b, "B secret kb")
    doc = upload(client, b, b_kb["id"], "b-secret.txt", B_SECRET.encode(), "text/plain", title="B secret doc").json()
    assert wait_done(client, b, doc["id"])["status"] == "ready"
    assert chunk_rows(admin_conn, doc["id"])
    a_key = client.post("/v1/api-keys", json={"name": "a key", "role": "admin"}, headers=a.headers).json()["key"]
    return a, b, b_kb, doc, {"Authorization": f"Bearer {a_key}"}


def _leaks(resp, *secrets: str) -> bool:
    return any(s in resp.text for s in secrets)


def test_documents_of_another_org_are_invisible_through_every_endpoint(client, b_document):
    a, b, b_kb, doc, a_key_headers = b_document
    secrets = (doc["id"], b_kb["id"], "B secret", "Segredo", doc["sha256"])
    file = {"file": ("x.txt", b"A tries to write into B", "text/plain")}
    for label, headers in {"user token": a.headers, "api key": a_key_headers}.items():
        attempts = {
            "get": client.get(f"/v1/documents/{doc['id']}", headers=headers),
            "list": client.get(f"/v1/knowledge-bases/{b_kb['id']}/documents", headers=headers),
            "list ready": client.get(f"/v1/knowledge-bases/{b_kb['id']}/documents?status=ready", headers=headers),
            "replace": client.put(f"/v1/documents/{doc['id']}/content", headers=headers, files=file),
            "delete": client.delete(f"/v1/documents/{doc['id']}", headers=headers),
            "reprocess": client.post(f"/v1/documents/{doc['id']}/reprocess", headers=headers),
            "upload into": client.post(f"/v1/knowledge-bases/{b_kb['id']}/documents", headers=headers, files=file),
            "text into": client.post(f"/v1/knowledge-bases/{b_kb['id']}/documents/text", headers=headers,
                                     json={"title": "x", "text": "A tries to write into B"}),
            # Same bytes as B's document: dedupe must not answer with B's row.
            "dedupe probe": client.post(f"/v1/knowledge-bases/{b_kb['id']}/documents/text", headers=headers,
                                        json={"title": "x", "text": B_SECRET}),
        }
        for what, resp in attempts.items():
            assert resp.status_code == 404, (label, what, resp.text)
            assert not _leaks(resp, *secrets), (label, what, resp.text)
        # Acting "as" org B is refused the same way.
        as_b = {**headers, "X-Organization-Id": b.org_id}
        assert client.get(f"/v1/knowledge-bases/{b_kb['id']}/documents", headers=as_b).status_code == 404
        assert client.post(f"/v1/knowledge-bases/{b_kb['id']}/documents", headers=as_b, files=file).status_code == 404
        # A's own knowledge bases list nothing of B's.
        a_kb = create_kb(client, a, f"A kb {uuid.uuid4().hex[:6]}")
        own = client.get(f"/v1/knowledge-bases/{a_kb['id']}/documents", headers=headers)
        assert own.status_code == 200
        assert own.json()["data"] == []

    # B's document is untouched: same version, still ready, same chunks.
    got = client.get(f"/v1/documents/{doc['id']}", headers=b.headers).json()
    assert (got["version"], got["status"], got["title"]) == (1, "ready", "B secret doc")
    assert client.get(f"/v1/knowledge-bases/{b_kb['id']}/documents", headers=b.headers).json()["data"][0]["id"] \
        == doc["id"]


@pytest.mark.parametrize("table", ["documents", "document_contents", "document_chunks"])
def test_sql_as_api_role_sees_and_changes_nothing_of_another_org(admin_conn, b_document, table):
    a, b, _, doc, _ = b_document
    key = "id" if table == "documents" else "document_id"
    owned = admin_conn.execute(f"select count(*) from public.{table} where {key} = %s", [doc["id"]]).fetchone()[0]
    assert owned >= 1
    with admin_conn.transaction(force_rollback=True):
        as_user(admin_conn, a.user_id)
        assert admin_conn.execute(f"select count(*) from public.{table} where organization_id = %s or {key} = %s",
                                  [b.org_id, doc["id"]]).fetchone()[0] == 0
        assert admin_conn.execute(f"update public.{table} set organization_id = organization_id where {key} = %s",
                                  [doc["id"]]).rowcount == 0
        assert admin_conn.execute(f"delete from public.{table} where {key} = %s", [doc["id"]]).rowcount == 0
    with admin_conn.transaction(force_rollback=True):
        as_user(admin_conn, b.user_id)  # the owner still sees every row
        assert admin_conn.execute(f"select count(*) from public.{table} where {key} = %s",
                                  [doc["id"]]).fetchone()[0] == owned


def test_sql_as_api_role_cannot_write_into_or_scan_another_org(admin_conn, b_document):
    a, b, b_kb, doc, _ = b_document
    with admin_conn.transaction(force_rollback=True):
        as_user(admin_conn, a.user_id)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            admin_conn.execute("insert into public.documents (organization_id, knowledge_base_id, title, "
                               "content_type, size_bytes, sha256) values (%s, %s, 'x', 'text/plain', 1, 'x')",
                               [b.org_id, b_kb["id"]])
    with admin_conn.transaction(force_rollback=True):
        as_user(admin_conn, a.user_id)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            admin_conn.execute("insert into public.document_contents (document_id, version, organization_id, data) "
                               "values (%s, 9, %s, 'x')", [doc["id"], b.org_id])
    # The reconciler's cross-tenant scan answers worker principals only.
    with admin_conn.transaction(force_rollback=True):
        as_user(admin_conn, a.user_id)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="only workers"):
            admin_conn.execute("select * from private.stuck_documents(interval '0 seconds')")
