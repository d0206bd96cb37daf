"""Tokens and roles, exactly: audience required, JWKS key rotation, owners protected from admins,
channel credentials encrypted at rest and never shown."""
import json
import time
import uuid

import pytest
from jose import jwt

from api.core import secretbox
from api.core.config import get_settings
from tests.support.jwks import JWKS, rsa_key


def _claims(**overrides) -> dict:
    now = int(time.time())
    claims = {"sub": str(uuid.uuid4()), "aud": "authenticated", "role": "authenticated", "iat": now,
              "exp": now + 60, **overrides}
    return {k: v for k, v in claims.items() if v is not None}


@pytest.mark.parametrize("missing", ["aud", "exp", "sub"])
def test_token_without_a_required_claim_is_401(client, new_tenant, missing):
    t = new_tenant()
    claims = _claims(sub=str(t.user_id))
    del claims[missing]
    token = jwt.encode(claims, get_settings().jwt_secret, algorithm="HS256")
    resp = client.get("/v1/organizations", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401, resp.text
    assert resp.json()["error"]["code"] == "unauthorized"


def test_unknown_kid_refetches_the_key_set_once(client, new_tenant):
    from api.core import auth
    t = new_tenant()
    jwks = JWKS()
    pem1, pub1 = rsa_key("k1")
    pem2, pub2 = rsa_key("k2")
    jwks.keys = [pub1]
    settings = get_settings()
    settings.jwks_url = jwks.url
    auth._jwks_cache.clear()
    auth._jwks_fetched_at.clear()
    claims = _claims(sub=str(t.user_id))

    def get(pem, kid):
        token = jwt.encode(claims, pem, algorithm="RS256", headers={"kid": kid})
        return client.get("/v1/organizations", headers={"Authorization": f"Bearer {token}"}).status_code

    try:
        assert get(pem1, "k1") == 200
        assert jwks.fetches == 1
        # The project rotates its signing key: the new kid is not cached yet, so it is fetched.
        jwks.keys = [pub1, pub2]
        auth._jwks_fetched_at[jwks.url] -= auth._JWKS_REFRESH_MIN_S  # the first fetch was long ago
        assert get(pem2, "k2") == 200
        assert jwks.fetches == 2
        # Made-up kids do not make every request refetch: at most once per _JWKS_REFRESH_MIN_S.
        assert [get(pem2, f"bogus{i}") for i in range(3)] == [401, 401, 401]
        assert jwks.fetches == 2
        assert get(pem1, "k1") == 200
        assert get(pem2, "k2") == 200
    finally:
        settings.jwks_url = ""
        auth._jwks_cache.clear()
        jwks.server.shutdown()


def _add_member(client, owner, user_id, role):
    resp = client.post(f"/v1/organizations/{owner.org_id}/members", json={"user_id": str(user_id), "role": role},
                       headers=owner.headers)
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def test_admin_cannot_demote_or_remove_an_owner(client, new_tenant, new_user):
    owner = new_tenant()
    co_owner_id, _ = new_user()
    admin_id, admin_token = new_user()
    co_owner_membership = _add_member(client, owner, co_owner_id, "owner")
    _add_member(client, owner, admin_id, "admin")
    admin = {"Authorization": f"Bearer {admin_token}", "X-Organization-Id": owner.org_id}
    base = f"/v1/organizations/{owner.org_id}/members/{co_owner_membership}"

    demote = client.patch(base, json={"role": "member"}, headers=admin)
    assert demote.status_code == 403, demote.text
    assert client.delete(base, headers=admin).status_code == 403
    members = client.get(f"/v1/organizations/{owner.org_id}/members", headers=owner.headers).json()["data"]
    assert {m["id"]: m["role"] for m in members}[co_owner_membership] == "owner"

    # Owners can.
    assert client.patch(base, json={"role": "member"}, headers=owner.headers).status_code == 200
    assert client.delete(base, headers=owner.headers).status_code == 204


def test_admin_cannot_demote_an_owner_in_sql_either(client, new_tenant, new_user, admin_conn):
    """The memberships policy, for the API role, says the same as the service."""
    from tests.support.isolation import as_user
    owner = new_tenant()
    co_owner_id, _ = new_user()
    admin_id, _ = new_user()
    co_owner_membership = _add_member(client, owner, co_owner_id, "owner")
    _add_member(client, owner, admin_id, "admin")
    with admin_conn.transaction():
        as_user(admin_conn, admin_id)
        assert admin_conn.execute("update public.memberships set role = 'member' where id = %s",
                                  [co_owner_membership]).rowcount == 0
        assert admin_conn.execute("delete from public.memberships where id = %s",
                                  [co_owner_membership]).rowcount == 0
        admin_conn.execute("reset role")


def test_channel_credentials_are_encrypted_at_rest_and_never_returned(client, new_tenant, admin_conn):
    t = new_tenant()
    agent = client.post("/v1/agents", json={"name": "bot"}, headers=t.headers).json()
    created = client.post("/v1/channel-integrations", headers=t.headers, json={
        "agent_id": agent["id"], "base_url": "http://127.0.0.1:9", "account_id": "1",
        "api_access_token": "cw-token-plain-123", "webhook_secret": "cw-secret-plain-456"})
    assert created.status_code == 201, created.text
    for body in (created.text, client.get(f"/v1/channel-integrations/{created.json()['id']}", headers=t.headers).text,
                 client.get("/v1/channel-integrations", headers=t.headers).text):
        assert "cw-token-plain-123" not in body
        assert "cw-secret-plain-456" not in body
        assert "api_access_token" not in json.loads(body)
        assert "token_hash" not in body
    row = admin_conn.execute("select api_access_token, webhook_secret from public.channel_integrations "
                             "where id = %s", [created.json()["id"]]).fetchone()
    assert all(v.startswith(secretbox.PREFIX) for v in row)
    assert "cw-token-plain-123" not in row[0]
    assert "cw-secret-plain-456" not in row[1]
    ctx = f"channel_integrations.api_access_token:{t.org_id}"
    assert secretbox.decrypt(row[0], context=ctx) == "cw-token-plain-123"
    # Bound to its place: the same ciphertext does not open as another org's or column's value.
    with pytest.raises(secretbox.SecretUnavailable):
        secretbox.decrypt(row[0], context=f"channel_integrations.api_access_token:{uuid.uuid4()}")
    with pytest.raises(secretbox.SecretUnavailable):
        secretbox.decrypt(row[0], context=f"channel_integrations.webhook_secret:{t.org_id}")


def test_key_rotation_old_key_decrypts_new_key_encrypts(client, new_tenant, admin_conn, admin_url, monkeypatch):
    from infra import secrets as rotation
    t = new_tenant()
    agent = client.post("/v1/agents", json={"name": "bot"}, headers=t.headers).json()
    created = client.post("/v1/channel-integrations", headers=t.headers, json={
        "agent_id": agent["id"], "base_url": "http://127.0.0.1:9", "account_id": "1",
        "api_access_token": "token-before-rotation"}).json()
    # A row written before encryption at rest existed (plaintext) is encrypted by the rotation too.
    legacy = client.post("/v1/channel-integrations", headers=t.headers, json={
        "agent_id": agent["id"], "base_url": "http://127.0.0.1:9", "account_id": "2",
        "api_access_token": "x"}).json()
    admin_conn.execute("update public.channel_integrations set api_access_token = 'legacy-plain' where id = %s",
                       [legacy["id"]])
    settings = get_settings()
    old_id = secretbox.key_ring()[0][0]
    old_spec = settings.secret_keys or f"{old_id}:" + secretbox.base64.urlsafe_b64encode(
        secretbox.key_ring()[0][1]).decode()
    new_key = secretbox.new_key()
    monkeypatch.setattr(settings, "secret_keys", f"k2026:{new_key},{old_spec}")
    counts = rotation.rotate(admin_url)
    assert counts["channel_integrations"] >= 2
    rows = dict(admin_conn.execute("select id::text, api_access_token from public.channel_integrations "
                                   "where organization_id = %s", [t.org_id]).fetchall())
    assert all(v.startswith(f"{secretbox.PREFIX}k2026:") for v in rows.values())
    ctx = f"channel_integrations.api_access_token:{t.org_id}"
    assert secretbox.decrypt(rows[created["id"]], context=ctx) == "token-before-rotation"
    assert secretbox.decrypt(rows[legacy["id"]], context=ctx) == "legacy-plain"
    assert rotation.rotate(admin_url)["channel_integrations"] == 0  # idempotent
    # A ring without the key a value was sealed with cannot read it.
    monkeypatch.setattr(settings, "secret_keys", f"other:{secretbox.new_key()}")
    with pytest.raises(secretbox.SecretUnavailable):
        secretbox.decrypt(rows[created["id"]], context=ctx)
    # Rotate back, so the rest of the session's integrations stay under the test key.
    monkeypatch.setattr(settings, "secret_keys", f"{old_spec},k2026:{new_key}")
    rotation.rotate(admin_url)


def test_secret_key_settings_are_validated():
    from pydantic import ValidationError

    from api.core.config import Settings
    with pytest.raises(ValidationError, match="32 bytes"):
        Settings(secret_keys="a:c2hvcnQ")
    with pytest.raises(ValidationError, match="RENUM_SECRET_KEYS is required"):
        Settings(env="prod", jwt_secret="x" * 40, api_key_pepper="y" * 40, webhook_signing_secret="z" * 40,
                 database_url="postgresql://x", redis_url="redis://x")
