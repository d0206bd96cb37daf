"""Tenant isolation: with org A's credentials, nothing of org B can be read, changed or listed.

Every foundation endpoint is tried with a user token and with an API key of A; then the same
is tried directly in SQL as the API role (`renum_api`) with A's claims, on every table in `public`.
"""
import uuid

import pytest

from tests.support.isolation import as_user, assert_org_rows_untouchable

RESOURCES = {
    "knowledge-bases": {"name": "B secret kb"},
    "agents": {"name": "B secret agent"},
    "contacts": {"name": "B secret contact", "external_id": "b-contact-1"},
}


@pytest.fixture
def two_orgs(client, new_tenant):
    a, b = new_tenant("A"), new_tenant("B")
    b_ids = {}
    for path, body in RESOURCES.items():
        resp = client.post(f"/v1/{path}", json=body, headers=b.headers)
        assert resp.status_code == 201, resp.text
        b_ids[path] = resp.json()["id"]
    key = client.post("/v1/api-keys", json={"name": "b key"}, headers=b.headers)
    b_ids["api-keys"] = key.json()["id"]
    a_key = client.post("/v1/api-keys", json={"name": "a key", "role": "admin"}, headers=a.headers).json()["key"]
    members = client.get(f"/v1/organizations/{b.org_id}/members", headers=b.headers).json()["data"]
    b_ids["membership"] = members[0]["id"]
    return a, b, b_ids, {"Authorization": f"Bearer {a_key}"}


def _a_credentials(a, a_key_headers):
    return {"user token": a.headers, "api key": a_key_headers}


def test_resources_of_another_org_are_invisible_through_every_endpoint(client, two_orgs):
    a, b, b_ids, a_key_headers = two_orgs
    for label, headers in _a_credentials(a, a_key_headers).items():
        for path in RESOURCES:
            rid = b_ids[path]
            assert client.get(f"/v1/{path}/{rid}", headers=headers).status_code == 404, (label, path)
            assert client.patch(f"/v1/{path}/{rid}", json={"name": "pwned"}, headers=headers).status_code == 404
            assert client.delete(f"/v1/{path}/{rid}", headers=headers).status_code == 404
            listed = client.get(f"/v1/{path}", headers=headers)
            assert listed.status_code == 200, (label, path)
            assert rid not in listed.text, (label, path)
        assert client.delete(f"/v1/api-keys/{b_ids['api-keys']}", headers=headers).status_code == 404
        assert b_ids["api-keys"] not in client.get("/v1/api-keys", headers=headers).text
        # Acting "as" org B is refused without revealing whether it exists.
        as_b = {**headers, "X-Organization-Id": b.org_id}
        for path in RESOURCES:
            assert client.get(f"/v1/{path}", headers=as_b).status_code == 404
            assert client.post(f"/v1/{path}", json={"name": "x"}, headers=as_b).status_code == 404
        assert client.post("/v1/api-keys", json={"name": "x"}, headers=as_b).status_code == 404
        # An agent in A cannot reference B's knowledge base; the answer is the same as for an id
        # that exists nowhere, so it reveals nothing.
        resp = client.post("/v1/agents", json={"name": "x", "knowledge_base_ids": [b_ids["knowledge-bases"]]},
                           headers=headers)
        ghost = str(uuid.uuid4())
        nowhere = client.post("/v1/agents", json={"name": "x", "knowledge_base_ids": [ghost]}, headers=headers)
        assert resp.status_code == nowhere.status_code == 404
        assert resp.json()["error"]["message"].replace(b_ids["knowledge-bases"], ghost) == \
            nowhere.json()["error"]["message"]

    # B's data is intact.
    for path, body in RESOURCES.items():
        got = client.get(f"/v1/{path}/{b_ids[path]}", headers=b.headers)
        assert got.status_code == 200
        assert got.json()["name"] == body["name"]


def test_organizations_and_memberships_of_another_org_are_invisible(client, two_orgs):
    a, b, b_ids, a_key_headers = two_orgs
    for label, headers in _a_credentials(a, a_key_headers).items():
        assert client.get(f"/v1/organizations/{b.org_id}", headers=headers).status_code == 404, label
        assert client.patch(f"/v1/organizations/{b.org_id}", json={"name": "pwned"}, headers=headers).status_code == 404
        assert client.delete(f"/v1/organizations/{b.org_id}", headers=headers).status_code == 404
        assert b.org_id not in client.get("/v1/organizations", headers=headers).text
        members = f"/v1/organizations/{b.org_id}/members"
        assert client.get(members, headers=headers).status_code == 404
        assert client.post(members, json={"user_id": str(a.user_id), "role": "owner"}, headers=headers).status_code == 404
        assert client.patch(f"{members}/{b_ids['membership']}", json={"role": "member"},
                            headers=headers).status_code == 404
        assert client.delete(f"{members}/{b_ids['membership']}", headers=headers).status_code == 404
        # B's membership id through A's own org path is not found either.
        own = f"/v1/organizations/{a.org_id}/members/{b_ids['membership']}"
        assert client.delete(own, headers=headers).status_code in (404,)
    assert client.get(f"/v1/organizations/{b.org_id}", headers=b.headers).json()["name"] == "B"


def test_roles_are_enforced_inside_an_org(client, new_tenant, new_user):
    owner = new_tenant()
    member_id, member_token = new_user()
    added = client.post(f"/v1/organizations/{owner.org_id}/members", json={"user_id": str(member_id)},
                        headers=owner.headers)
    assert added.status_code == 201, added.text
    member = {"Authorization": f"Bearer {member_token}"}
    assert client.get("/v1/knowledge-bases", headers=member).status_code == 200
    assert client.post("/v1/api-keys", json={"name": "k"}, headers=member).status_code == 403
    assert client.patch(f"/v1/organizations/{owner.org_id}", json={"name": "x"}, headers=member).status_code == 403
    assert client.post(f"/v1/organizations/{owner.org_id}/members",
                       json={"user_id": str(uuid.uuid4())}, headers=member).status_code in (403, 404)
    # The last owner cannot be demoted or removed.
    me = [m for m in client.get(f"/v1/organizations/{owner.org_id}/members", headers=owner.headers).json()["data"]
          if m["role"] == "owner"][0]
    resp = client.patch(f"/v1/organizations/{owner.org_id}/members/{me['id']}", json={"role": "admin"},
                        headers=owner.headers)
    assert resp.status_code == 409
    assert resp.json()["error"]["code"] == "last_owner"


def test_sql_as_api_role_sees_and_changes_nothing_of_another_org(admin_conn, two_orgs):
    a, b, _, _ = two_orgs
    tables = [r[0] for r in admin_conn.execute(
        "select table_name from information_schema.columns where table_schema = 'public' "
        "and column_name = 'organization_id' order by 1")]
    for table in tables:
        with admin_conn.transaction(force_rollback=True):
            owned_by_b = admin_conn.execute(f"select count(*) from public.{table} where organization_id = %s",
                                            [b.org_id]).fetchone()[0]
            as_user(admin_conn, a.user_id)
            assert_org_rows_untouchable(admin_conn, table, b.org_id)
        if owned_by_b:
            with admin_conn.transaction(force_rollback=True):
                assert admin_conn.execute(f"select count(*) from public.{table} where organization_id = %s",
                                          [b.org_id]).fetchone()[0] == owned_by_b
    with admin_conn.transaction(force_rollback=True):
        as_user(admin_conn, a.user_id)
        assert [r[0] for r in admin_conn.execute("select id from public.organizations")] == [uuid.UUID(a.org_id)]
        with pytest.raises(Exception, match="row-level security"):
            admin_conn.execute("insert into public.knowledge_bases (organization_id, name) values (%s, 'x')",
                               [b.org_id])
