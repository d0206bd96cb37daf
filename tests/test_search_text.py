"""Search, text side: per-KB document frequencies kept by triggers on ingest and delete, BM25 scores,
normalized hyphen/compound/code forms, and tenant isolation of the statistics."""
import uuid

import numpy as np
import psycopg
import pytest
from psycopg.rows import dict_row

from tests.support.isolation import as_user, assert_org_rows_untouchable
from tests.support.search import Doc, add_document, create_kb, search


def _terms(conn, kb) -> dict[str, int]:
    return dict(conn.execute("select lexeme, chunks from public.knowledge_base_terms where knowledge_base_id = %s",
                             [kb]).fetchall())


def _stats(conn, kb):
    return conn.execute("select chunks, lexemes from public.knowledge_base_text_stats where knowledge_base_id = %s",
                        [kb]).fetchone()


def test_document_frequencies_follow_ingest_and_delete(client, new_tenant, admin_url):
    tenant = new_tenant()
    kb = create_kb(client, tenant, "stats")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        first = add_document(conn, tenant.org_id, kb, Doc("boleto", ""),
                             ["Segunda via do boleto no aplicativo", "O boleto vence no dia 10"])
        add_document(conn, tenant.org_id, kb, Doc("pix", ""), ["Pague a fatura com Pix no aplicativo"])
        terms = _terms(conn, kb)
        # Stemmed, accent-folded lexemes; each counted once per chunk that holds it.
        assert terms["bolet"] == 2
        assert terms["aplic"] == 2
        assert terms["pix"] == 1
        assert terms["venc"] == 1
        assert _stats(conn, kb)[0] == 3
        conn.execute("delete from public.documents where id = %s", [first])  # chunks go by cascade
        terms = _terms(conn, kb)
        assert "bolet" not in terms
        assert "venc" not in terms
        assert terms["aplic"] == 1
        assert terms["pix"] == 1
        assert _stats(conn, kb)[0] == 1
        conn.execute("delete from public.document_chunks where knowledge_base_id = %s", [kb])
        assert _terms(conn, kb) == {}
        assert _stats(conn, kb) is None


def test_written_variants_of_a_word_or_code_find_each_other(client, new_tenant, admin_url):
    tenant = new_tenant()
    kb = create_kb(client, tenant, "variants")
    docs = [Doc("alterar e-mail", ""), Doc("erro E-104", ""), Doc("plano 300", ""), Doc("plano 500", ""),
            Doc("wi-fi", ""), Doc("pre-pago", "")]
    texts = ["Para alterar o e-mail da conta, abra Perfil.",
             "O código de erro E-104 indica cabo de fibra desconectado.",
             "O plano de 300 MB custa R$ 99,90 por mês.",
             "O plano de 500 MB custa R$ 129,90 por mês.",
             "Se o Wi-Fi não conecta, reinicie o roteador.",
             "No pré-pago você coloca créditos antes de usar."]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for doc, text in zip(docs, texts, strict=True):
            add_document(conn, tenant.org_id, kb, doc, [text])
    for query, title in (("mudar meu email", "alterar e-mail"), ("modem com erro E104", "erro E-104"),
                         ("codigo e-104", "erro E-104"), ("quanto custa o plano de 300mb", "plano 300"),
                         ("plano 500mb", "plano 500"), ("wifi nao conecta", "wi-fi"),
                         ("o que é prepago", "pre-pago"), ("pre pago", "pre-pago")):
        resp = search(client, tenant, kb, query, mode="text")
        assert resp.status_code == 200, resp.text
        hits = resp.json()["data"]
        assert hits, (query, [h["title"] for h in hits])
        assert hits[0]["title"] == title, (query, [h["title"] for h in hits])


def test_rare_words_outweigh_common_ones(client, new_tenant, admin_url):
    """BM25's IDF: "plano" is in every chunk, "fidelidade" in one; a query with both ranks the
    chunk with the rare word first even when another repeats the common one."""
    tenant = new_tenant()
    kb = create_kb(client, tenant, "idf")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        add_document(conn, tenant.org_id, kb, Doc("planos", ""), ["Plano, plano, plano: temos plano para todos."])
        add_document(conn, tenant.org_id, kb, Doc("fidelidade", ""), ["O plano tem fidelidade de 12 meses."])
        for i in range(5):
            add_document(conn, tenant.org_id, kb, Doc(f"outro {i}", ""), [f"Outro plano número {i}."])
    hits = search(client, tenant, kb, "plano com fidelidade", mode="text").json()["data"]
    assert hits[0]["title"] == "fidelidade"
    assert hits[0]["scores"]["text_score"] > hits[1]["scores"]["text_score"]


def test_text_list_scores_each_chunk_without_sorting_word_pairs(client, new_tenant, admin_url):
    """Every chunk holds every query word (a small KB, or words the whole KB uses): all chunks are
    candidates and each word scores each of them. Joined and grouped by chunk, those 600 x 12
    pairs went through a sort carrying each chunk's tsvector, which spilled to temp files past
    work_mem (chat context +60-70 ms at 2,000 chunks, bench/chat_overhead.py). Scored per chunk,
    the list stays in memory: with 1 MB of work_mem and no temp file allowed, the search answers."""
    from api.search import service
    from api.search.schemas import SearchOptions
    tenant = new_tenant()
    kb = create_kb(client, tenant, "common words")
    words = ["pedido", "entrega", "prazo", "troca", "boleto", "pix", "cupom", "frete", "loja", "nota", "garantia",
             "estoque"]
    rng = np.random.default_rng(7)
    chunks = [" ".join(rng.permutation(words * 5)) + f" item{i}." for i in range(600)]
    vectors = rng.standard_normal((len(chunks), 384)).astype(np.float32)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        add_document(conn, tenant.org_id, kb, Doc("faq", ""), chunks, vectors=vectors)
        conn.execute("analyze public.document_chunks")  # the planner's view of a KB in use
    with psycopg.connect(admin_url, row_factory=dict_row) as conn:
        conn.execute("set local work_mem = '1MB'; set local temp_file_limit = 0")
        as_user(conn, tenant.user_id)
        result = service.search_sync(conn, [uuid.UUID(kb)],
                                     SearchOptions(query=" ".join(reversed(words)), k=10, mode="text"))
    assert len(result.hits) == 10
    assert all(h.scores.text_score > 0 for h in result.hits)


def test_another_org_cannot_read_or_change_the_statistics(client, new_tenant, admin_url, admin_conn):
    a, b = new_tenant("A"), new_tenant("B")
    kb_b = create_kb(client, b, "B kb")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        add_document(conn, b.org_id, kb_b, Doc("B secret", ""), ["A senha do cofre é 4471."])
    for table in ("knowledge_base_terms", "knowledge_base_text_stats"):
        with admin_conn.transaction(force_rollback=True):
            as_user(admin_conn, a.user_id)
            assert_org_rows_untouchable(admin_conn, table, b.org_id)
    # The security-definer query function reveals nothing of B's KB to A either.
    with admin_conn.transaction(force_rollback=True):
        as_user(admin_conn, a.user_id)
        row = admin_conn.execute("select match_query, avg_length, idf from private.search_terms("
                                 "'portuguese', 'senha do cofre', %s, 500, 50)", [[uuid.UUID(kb_b)]]).fetchone()
        assert row[0] is None
        assert row[1] == 1
        assert len(set(row[2])) == 1  # no matches, no length, one prior IDF


@pytest.mark.parametrize("text, expected", [
    ("e-mail", {"email", "mail"}),
    ("email", {"email"}),
    ("E-104", {"e104", "104"}),
    ("E104", {"e104", "104"}),
    ("300mb", {"300mb", "300", "mb"}),
    ("wi-fi", {"wif", "wi", "fi"}),  # "wifi" stems to "wif", as the query "wifi" does
])
def test_normalized_forms(admin_conn, text, expected):
    lexemes = admin_conn.execute("select tsvector_to_array(to_tsvector('private.portuguese_unaccent', "
                                 "private.search_normalize(%s)))", [text]).fetchone()[0]
    assert set(lexemes) == expected
