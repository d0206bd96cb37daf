"""Search: hybrid/vector/text ranking on a small Portuguese + English corpus, filters, k, the result
cache, errors, and HNSW behaviour (index use, iterative scan for a small tenant in a big table)."""
import uuid

import psycopg
import pytest

from tests.conftest import Tenant, make_user
from tests.support.search import EN_DOCS, PT_DOCS, add_document, bump_version, create_kb, multi_search, search

REFUND_PT = "Qual é o prazo de devolução?"


@pytest.fixture(scope="module")
def shop(client, admin_url):
    """One tenant with a Portuguese KB and an English KB (read-only for the tests below)."""
    user_id, token = make_user(admin_url)
    org = client.post("/v1/organizations", json={"name": "Loja", "slug": f"loja-{uuid.uuid4().hex[:8]}"},
                      headers={"Authorization": f"Bearer {token}"}).json()["id"]
    tenant = Tenant(user_id, token, org)
    kb_pt, kb_en = create_kb(client, tenant, "Loja PT"), create_kb(client, tenant, "Shop EN", language="english")
    docs = {}
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for kb, corpus in ((kb_pt, PT_DOCS), (kb_en, EN_DOCS)):
            for doc in corpus:
                docs[doc.title] = str(add_document(conn, org, kb, doc, [doc.content]))
    return tenant, kb_pt, kb_en, docs


def titles(resp) -> list[str]:
    assert resp.status_code == 200, resp.text
    return [hit["title"] for hit in resp.json()["data"]]


@pytest.mark.parametrize("mode", ["hybrid", "vector", "text"])
def test_portuguese_question_finds_the_refund_policy(client, shop, mode):
    tenant, kb_pt, _, _ = shop
    resp = search(client, tenant, kb_pt, REFUND_PT, mode=mode)
    assert titles(resp)[0] == "Política de devolução"
    hit = resp.json()["data"][0]
    assert hit["content"].startswith("O prazo para devolução")
    assert hit["ordinal"] == 0
    scores = hit["scores"]
    assert scores["rrf"] > 0
    if mode != "text":
        assert scores["vector_rank"] == 1
        assert 0 < scores["vector_similarity"] <= 1
        assert scores["vector_distance"] == pytest.approx(1 - scores["vector_similarity"], abs=1e-6)
    if mode != "vector":
        assert scores["text_rank"] == 1
        assert scores["text_score"] > 0


def test_text_search_ignores_accents_and_case(client, shop):
    tenant, kb_pt, _, _ = shop
    for query in ("prazo de devolucao", "PRAZO DE DEVOLUÇÃO", "horario de atendimento sabado"):
        assert titles(search(client, tenant, kb_pt, query, mode="text"))[0] in (
            "Política de devolução", "Horário de atendimento"), query
    assert titles(search(client, tenant, kb_pt, "pagamento pix", mode="text"))[0] == "Formas de pagamento"


def test_english_kb_uses_english_stemming(client, shop):
    tenant, _, kb_en, _ = shop
    assert titles(search(client, tenant, kb_en, "refunded items", mode="text"))[0] == "Refund policy"
    assert titles(search(client, tenant, kb_en, "how long does shipping take?"))[0] == "Shipping times"


def test_query_without_full_text_match_still_returns_vector_hits(client, shop):
    tenant, kb_pt, _, _ = shop
    assert titles(search(client, tenant, kb_pt, "xyzzy plugh", mode="text")) == []
    # Only stopwords: no tsquery at all, hybrid is the vector list alone.
    hits = search(client, tenant, kb_pt, "o que é", k=3).json()["data"]
    assert len(hits) == 3
    assert all(h["scores"]["text_rank"] is None for h in hits)


def test_websearch_syntax_is_honoured_when_used(client, shop):
    tenant, _, kb_en, _ = shop
    assert titles(search(client, tenant, kb_en, '"express delivery"', mode="text")) == ["Shipping times"]
    assert "Refund policy" not in titles(search(client, tenant, kb_en, "days -refund", mode="text"))
    # Punctuation that means something to tsquery is treated as text.
    assert search(client, tenant, kb_en, "a:b & | ! <-> 'x' \\ (", mode="text").status_code == 200


def _z(values: dict) -> dict:
    mean = sum(values.values()) / len(values)
    sd = (sum((v - mean) ** 2 for v in values.values()) / len(values)) ** 0.5
    return {key: (v - mean) / sd if sd else 0.0 for key, v in values.items()}


@pytest.mark.parametrize("weights", [{"vector": 1, "text": 1}, {"vector": 1, "text": 0.5}])
def test_hybrid_fuses_the_lists_z_scores_and_still_reports_rrf(client, shop, weights):
    # Every chunk of the small KB is a candidate of both lists, so the fused score can be checked
    # from the hits alone: weight x z per list, a chunk missing from a list counting as its lowest.
    tenant, kb_pt, _, _ = shop
    query = "pagamento no pix e prazo de entrega"
    hits = search(client, tenant, kb_pt, query, k=50, candidates=50, weights=weights).json()["data"]
    vec = _z({h["chunk_id"]: h["scores"]["vector_similarity"] for h in hits if h["scores"]["vector_rank"]})
    txt = _z({h["chunk_id"]: h["scores"]["text_score"] for h in hits if h["scores"]["text_rank"]})
    assert len(vec) == len(hits) and 2 <= len(txt) < len(hits)  # some chunks match no query word
    expected = {h["chunk_id"]: weights["vector"] * vec[h["chunk_id"]]
                + weights["text"] * txt.get(h["chunk_id"], min(txt.values())) for h in hits}
    assert [h["scores"]["fused"] for h in hits] == pytest.approx([expected[h["chunk_id"]] for h in hits], abs=1e-6)
    assert [h["chunk_id"] for h in hits] == sorted(expected, key=lambda c: -expected[c])
    for h in hits:  # RRF (k = 10) is reported whatever the fusion
        s = h["scores"]
        rrf = sum(w / (10 + r) for w, r in ((weights["vector"], s["vector_rank"]), (weights["text"], s["text_rank"]))
                  if r)
        assert s["rrf"] == pytest.approx(rrf, abs=1e-9)
    by_rrf = search(client, tenant, kb_pt, query, k=50, candidates=50, weights=weights, fusion="rrf").json()["data"]
    assert [h["scores"]["fused"] for h in by_rrf] == [h["scores"]["rrf"] for h in by_rrf]
    assert [h["scores"]["rrf"] for h in by_rrf] == sorted((h["scores"]["rrf"] for h in by_rrf), reverse=True)


def test_k_is_respected(client, shop):
    tenant, kb_pt, _, _ = shop
    assert len(titles(search(client, tenant, kb_pt, REFUND_PT, k=2))) == 2
    assert len(titles(search(client, tenant, kb_pt, REFUND_PT, k=1, mode="vector"))) == 1
    assert len(titles(search(client, tenant, kb_pt, REFUND_PT, k=50))) == len(PT_DOCS)


def test_filters_apply_inside_both_candidate_lists(client, shop):
    tenant, kb_pt, kb_en, docs = shop
    only = lambda **filters: set(titles(search(client, tenant, kb_pt, REFUND_PT, filters=filters)))  # noqa: E731
    assert only(tags_any=["shipping", "payment"]) == {"Prazo de entrega", "Formas de pagamento"}
    assert only(tags_all=["policy", "pt"]) == {"Política de devolução"}
    assert only(tags_all=["policy", "en"]) == set()
    assert only(source="faq") == {"Formas de pagamento"}
    assert only(source=["faq", "upload"]) == {d.title for d in PT_DOCS}
    assert only(document_ids=[docs["Horário de atendimento"]]) == {"Horário de atendimento"}
    assert only(metadata={"area": "pos-venda"}) == {"Política de devolução"}
    assert only(metadata={"lang": "en"}) == set()
    # A document of another KB in the filter does not widen the search.
    assert only(document_ids=[docs["Refund policy"]]) == set()
    # Filtered hits come back even when they rank below the unfiltered top k.
    hits = titles(search(client, tenant, kb_pt, REFUND_PT, k=1, filters={"tags_any": ["support"]}))
    assert hits == ["Horário de atendimento"]


def test_multi_kb_search_merges_languages(client, shop):
    tenant, kb_pt, kb_en, _ = shop
    found = titles(multi_search(client, tenant, [kb_pt, kb_en], "refund 30 days devolução", k=4))
    assert {"Política de devolução", "Refund policy"} <= set(found[:3])
    only_text = titles(multi_search(client, tenant, [kb_pt, kb_en], "devolucao refunds", mode="text"))
    assert set(only_text) == {"Política de devolução", "Refund policy"}
    # Same KB twice is the same search.
    assert titles(multi_search(client, tenant, [kb_en, kb_en], "password", k=1)) == ["Password reset"]


def test_result_cache_hits_then_invalidates_on_content_version_bump(client, new_tenant, admin_conn):
    tenant = new_tenant()
    kb = create_kb(client, tenant, "Cache")
    add_document(admin_conn, tenant.org_id, kb, PT_DOCS[0], [PT_DOCS[0].content])
    first = search(client, tenant, kb, REFUND_PT)
    assert first.json()["cached"] is False
    assert len(first.json()["data"]) == 1
    again = search(client, tenant, kb, REFUND_PT)
    assert again.json() == {**first.json(), "cached": True}
    # Another k, mode or filter is another entry.
    assert search(client, tenant, kb, REFUND_PT, k=3).json()["cached"] is False
    assert search(client, tenant, kb, REFUND_PT, mode="text").json()["cached"] is False
    # Ingest writes chunks and bumps content_version in one transaction: the old entry stops matching.
    add_document(admin_conn, tenant.org_id, kb, PT_DOCS[1], [PT_DOCS[1].content])
    bump_version(admin_conn, kb)
    fresh = search(client, tenant, kb, REFUND_PT)
    assert fresh.json()["cached"] is False
    assert len(fresh.json()["data"]) == 2
    assert search(client, tenant, kb, REFUND_PT).json()["cached"] is True


def test_another_orgs_kb_is_not_found(client, shop, new_tenant):
    tenant, kb_pt, _, _ = shop
    other = new_tenant("Other")
    other_kb = create_kb(client, other, "Other KB")
    assert search(client, tenant, other_kb, "x").status_code == 404
    assert search(client, other, kb_pt, REFUND_PT).status_code == 404
    assert multi_search(client, tenant, [kb_pt, other_kb], "x").status_code == 404
    assert search(client, tenant, uuid.uuid4(), "x").status_code == 404


@pytest.mark.parametrize("body", [
    {"query": ""}, {"query": "   "}, {"query": "x", "k": 0}, {"query": "x", "k": 51},
    {"query": "x", "mode": "fuzzy"}, {"query": "x", "candidates": 0}, {"query": "x", "unknown": 1},
    {"query": "x", "filters": {"tags": ["a"]}}, {"query": "x", "filters": {"document_ids": ["nope"]}},
    {"query": "x", "weights": {"vector": -1}}, {"query": "x" * 4001}, {"query": "x", "k": 20, "candidates": 10},
    {"query": "x", "fusion": "max"},
])
def test_bad_input_is_422(client, shop, body):
    tenant, kb_pt, _, _ = shop
    resp = client.post(f"/v1/knowledge-bases/{kb_pt}/search", json=body, headers=tenant.headers)
    assert resp.status_code == 422, resp.text


def test_mixing_embedding_dimensions_is_422(client, shop):
    tenant, kb_pt, _, _ = shop
    big = create_kb(client, tenant, f"OpenAI {uuid.uuid4().hex[:6]}", embedding_model="text-embedding-3-small")
    resp = multi_search(client, tenant, [kb_pt, big], "x")
    assert resp.status_code == 422
    assert "embedding model" in resp.json()["error"]["message"]
    assert multi_search(client, tenant, [], "x").status_code == 422


# --- HNSW: index use and iterative scan --------------------------------------------------------

BIG_CHUNKS, SMALL_CHUNKS = 4000, 5
NEEDLE = "limite de crédito do cartão"


@pytest.fixture(scope="module")
def haystack(client, admin_url):
    """A big tenant whose chunks all sit right around the query vector, and a small tenant whose
    few chunks are far from it: HNSW's first ef_search candidates are all the big tenant's."""
    import numpy as np

    from api.core.db import sync_pool
    from api.embeddings.service import get_embedder
    from tests.support.search import Doc
    query_vec = get_embedder().embed_query(NEEDLE)
    rng = np.random.default_rng(7)
    near = query_vec + rng.normal(0, 0.05, (BIG_CHUNKS, 384))
    far = rng.normal(0, 1, (SMALL_CHUNKS, 384))
    tenants = {}
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for name, vectors in (("big", near), ("small", far)):
            user_id, token = make_user(admin_url)
            org = client.post("/v1/organizations", json={"name": name, "slug": f"{name}-{uuid.uuid4().hex[:8]}"},
                              headers={"Authorization": f"Bearer {token}"}).json()["id"]
            tenant = Tenant(user_id, token, org)
            kb = create_kb(client, tenant, f"{name} kb")
            vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
            texts = [f"{name} chunk {i}: limite do cartão" for i in range(len(vectors))]
            add_document(conn, org, kb, Doc(f"{name} doc", ""), texts, vectors)
            tenants[name] = (tenant, kb)
        conn.execute("analyze public.document_chunks")
    import os
    pool = sync_pool(os.environ["DATABASE_URL"], max_size=2)
    pool.open(wait=True)
    yield tenants, pool
    pool.close()


def _as_org(pool, tenant):
    from api.core.db import sync_unit_of_work
    from api.core.principal import org_principal
    return sync_unit_of_work(pool, org_principal(uuid.UUID(tenant.org_id), "member", kind="worker"))


def _vector_statement(session, kb, k, scan="auto"):
    from api.search import repository_sync, service
    from api.search.schemas import SearchOptions
    options = SearchOptions(query=NEEDLE, k=k, mode="vector")
    kbs = repository_sync.load_kbs(session.conn, [uuid.UUID(kb)], None)
    target = service.resolve_target(kbs, [uuid.UUID(kb)], "vector")
    vector = service.query_embedder(target.model, target.dim).embed_query(NEEDLE)
    return service.statement_for(target, options, vector, scan=scan)


def test_vector_search_uses_the_hnsw_index(haystack):
    from api.search import repository_sync
    tenants, pool = haystack
    tenant, kb = tenants["big"]
    with _as_org(pool, tenant) as session:
        statement, params = _vector_statement(session, kb, 10)
        plan = repository_sync.explain(session.conn, statement, params, ef_search=100, max_scan_tuples=20000,
                                       analyze=True)
    assert "Index Scan using document_chunks_embedding_384_idx" in plan, plan


def test_a_kb_that_is_a_small_share_of_the_table_is_scanned_exactly(client, haystack):
    """The 5-chunk KB among 4,005 chunks: its rows are read through the KB index and sorted (no
    HNSW walk), and the result is the exact nearest neighbours, through the service and the API.
    The 4,000-chunk KB is nearly the whole table: it keeps the HNSW index."""
    from api.search import repository_sync, service
    tenants, pool = haystack
    small, small_kb = tenants["small"]
    big, big_kb = tenants["big"]
    with _as_org(pool, small) as session:
        kbs = repository_sync.load_kbs(session.conn, [uuid.UUID(small_kb)], None)
        assert kbs[0]["chunks"] == SMALL_CHUNKS and kbs[0]["table_chunks"] >= BIG_CHUNKS
        statement, params = _vector_statement(session, small_kb, 3)
        plan = repository_sync.explain(session.conn, statement, params, ef_search=100, max_scan_tuples=20000)
        assert "embedding_384_idx" not in plan, plan
        rows = repository_sync.search(session.conn, statement, params, ef_search=100, max_scan_tuples=20000)
        exact = session.conn.execute(
            "select id from public.document_chunks where knowledge_base_id = %s "
            "order by (embedding::extensions.vector(384) <=> %s::extensions.vector(384)) + 0, id limit 3",
            [small_kb, params["qvec"]]).fetchall()
        assert [r["chunk_id"] for r in rows] == [r["id"] for r in exact]
    with _as_org(pool, big) as session:
        statement, params = _vector_statement(session, big_kb, 3)
        plan = repository_sync.explain(session.conn, statement, params, ef_search=100, max_scan_tuples=20000)
        assert "embedding_384_idx" in plan, plan
    assert len(search(client, small, small_kb, NEEDLE, k=3, mode="vector").json()["data"]) == 3


def test_small_tenant_in_a_big_table_still_gets_its_results(client, haystack):
    from api.search import repository_sync, service
    from api.search.schemas import SearchOptions
    tenants, pool = haystack
    tenant, kb = tenants["small"]
    with _as_org(pool, tenant) as session:
        # The HNSW statement (a 5-chunk KB gets the exact scan otherwise), with the plans that never
        # touch HNSW (the kb index + sort) taken away, so this exercises the HNSW walk through 4000
        # other-tenant neighbours, as a mid-sized tenant's would in a bigger table.
        session.conn.execute("set local enable_seqscan = off; set local enable_bitmapscan = off; "
                             "set local enable_indexscan = on; set local enable_sort = off")
        statement, params = _vector_statement(session, kb, 10, scan="hnsw")
        plan = repository_sync.explain(session.conn, statement, params, ef_search=100, max_scan_tuples=20000)
        assert "document_chunks_embedding_384_idx" in plan, plan
        hits = service.search_sync(session.conn, [uuid.UUID(kb)], SearchOptions(query=NEEDLE, k=10, mode="vector"))
        assert len(hits.hits) == SMALL_CHUNKS
        assert len(service.search_sync(session.conn, [uuid.UUID(kb)],
                                       SearchOptions(query=NEEDLE, k=3, mode="hybrid")).hits) == 3
        # The same scan without iterative scan stops after ef_search neighbours, all another tenant's.
        session.conn.execute("select set_config('hnsw.iterative_scan', 'off', true)")
        assert len(session.conn.execute(statement, params).fetchall()) < SMALL_CHUNKS
    # And through the API, with the planner left alone.
    hits = search(client, tenant, kb, NEEDLE, k=10, mode="vector").json()["data"]
    assert len(hits) == SMALL_CHUNKS


def test_common_words_select_no_candidates_in_a_big_kb_but_still_rank(client, haystack):
    """Every big-tenant chunk says "limite do cartão". In that 4000-chunk KB the rarest word that
    matches anything ("cartão"; "crédito" matches nothing) selects candidates, and "limite" only
    ranks. The 5-chunk KB is small enough for every word to select. Document frequencies are exact
    (knowledge_base_terms), and every query word gets its IDF."""
    tenants, pool = haystack
    query = "crédito limite cartão"
    for name, expected in (("big", {"carta"}), ("small", {"carta", "limit"})):
        tenant, kb = tenants[name]
        with _as_org(pool, tenant) as session:
            row = session.conn.execute("select match_query::text as m, lexemes from private.search_terms("
                                       "'portuguese', %s, %s, 2000, 50)", [query, [uuid.UUID(kb)]]).fetchone()
        assert set(row["m"].replace("'", "").split(" | ")) == expected, (name, row)
        assert set(row["lexemes"]) == {"credit", "carta", "limit"}
    tenant, kb = tenants["big"]
    hits = search(client, tenant, kb, query, k=10, mode="text").json()["data"]
    assert len(hits) == 10
    assert all(h["scores"]["text_score"] > 0 for h in hits)


def test_search_chunks_helper_takes_raw_user_text(haystack):
    """The helper chat calls: blank text is no search, overlong text is cut to the API's limit."""
    from api.search import service
    tenants, pool = haystack
    tenant, kb = tenants["small"]
    with _as_org(pool, tenant) as session:
        assert service.search_chunks_sync(session.conn, [uuid.UUID(kb)], "  \n ") == []
        assert service.search_chunks_sync(session.conn, [], NEEDLE) == []
        hits = service.search_chunks_sync(session.conn, [uuid.UUID(kb)], NEEDLE + " x" * 3000, k=3)
        assert len(hits) == 3
        assert all(h.knowledge_base_id == uuid.UUID(kb) for h in hits)


# --- End to end: upload endpoint + real ingest worker, then search ---------------------------------

def test_uploaded_document_is_searchable_and_delete_invalidates_the_cache(client, new_tenant, celery_worker):
    from tests.support.documents import wait_done
    tenant = new_tenant()
    kb = create_kb(client, tenant, "Uploads")
    text = ("Trocas e devoluções\n\nVocê pode devolver o produto em até 7 dias após a entrega, sem custo. "
            "Produtos com defeito têm garantia de 90 dias.")
    resp = client.post(f"/v1/knowledge-bases/{kb}/documents", headers=tenant.headers,
                       files={"file": ("trocas.txt", text.encode(), "text/plain")},
                       data={"tags": "policy,pt", "source": "site", "metadata": '{"area": "pos-venda"}'})
    assert resp.status_code == 201, resp.text
    doc_id = resp.json()["id"]
    assert wait_done(client, tenant, doc_id)["status"] == "ready"
    body = {"query": "qual o prazo para devolver um produto?", "filters": {"tags_all": ["policy"], "source": "site",
                                                                           "metadata": {"area": "pos-venda"}}}
    first = client.post(f"/v1/knowledge-bases/{kb}/search", json=body, headers=tenant.headers).json()
    assert [h["document_id"] for h in first["data"]] == [doc_id]
    assert first["cached"] is False
    hit = first["data"][0]
    assert hit["title"] == "trocas.txt"
    assert hit["tags"] == ["policy", "pt"]
    assert hit["source"] == "site"
    assert "7 dias" in hit["content"]
    assert hit["scores"]["vector_rank"] == hit["scores"]["text_rank"] == 1
    assert client.post(f"/v1/knowledge-bases/{kb}/search", json=body, headers=tenant.headers).json()["cached"]
    assert client.delete(f"/v1/documents/{doc_id}", headers=tenant.headers).status_code == 204
    after = client.post(f"/v1/knowledge-bases/{kb}/search", json=body, headers=tenant.headers).json()
    assert after == {"data": [], "mode": "hybrid", "cached": False}
