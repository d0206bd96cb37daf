"""Credential verification: Supabase JWTs (HS256 secret or JWKS) and organization API keys."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from uuid import UUID

import httpx
from jose import JWTError, jwt

from api.core.config import Settings
from api.core.errors import Unauthorized
from api.core.principal import Principal, org_principal, user_principal

API_KEY_PREFIX = "rnm_"
_JWKS_TTL_S = 600
# An unknown `kid` (the project rotated its signing key) refetches the key set, at most once
# per this many seconds per URL, so a flood of tokens with made-up kids cannot hammer the issuer.
_JWKS_REFRESH_MIN_S = 30
_jwks_cache: dict[str, tuple[float, dict]] = {}
_jwks_fetched_at: dict[str, float] = {}


def new_api_key() -> tuple[str, str]:
    """A fresh secret and its display prefix. The secret is shown once and never stored."""
    public = secrets.token_hex(4)
    return f"{API_KEY_PREFIX}{public}_{secrets.token_urlsafe(32)}", f"{API_KEY_PREFIX}{public}"


def hash_api_key(key: str, pepper: str) -> str:
    # Keys carry 256 bits of entropy, so a fast keyed hash is enough (no password KDF needed).
    return hmac.new(pepper.encode(), key.encode(), hashlib.sha256).hexdigest()


async def _jwks(url: str, *, refresh: bool = False) -> dict:
    now = time.monotonic()
    cached = _jwks_cache.get(url)
    if cached and (cached[0] > now and not refresh
                   or refresh and now - _jwks_fetched_at.get(url, -1e9) < _JWKS_REFRESH_MIN_S):
        return cached[1]
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            resp = await client.get(url)
            resp.raise_for_status()
            keys = resp.json()
    except (httpx.HTTPError, ValueError):
        if cached:  # the issuer is unreachable: keep verifying with the keys we have
            return cached[1]
        raise Unauthorized("the token issuer's keys cannot be fetched") from None
    _jwks_cache[url] = (now + _JWKS_TTL_S, keys)
    _jwks_fetched_at[url] = now
    return keys


async def _jwk_for(url: str, kid: str | None) -> dict | None:
    for refresh in (False, True):
        keys = (await _jwks(url, refresh=refresh)).get("keys", [])
        match = [k for k in keys if k.get("kid") == kid]
        if match:
            return match[0]
    return None


async def verify_jwt(token: str, settings: Settings) -> Principal:
    try:
        header = jwt.get_unverified_header(token)
    except JWTError:
        raise Unauthorized("malformed bearer token") from None
    alg = header.get("alg", "")
    if alg == "HS256" and settings.jwt_secret:
        key: str | dict = settings.jwt_secret
    elif alg in ("RS256", "ES256") and settings.jwks_url:
        jwk = await _jwk_for(settings.jwks_url, header.get("kid"))
        if jwk is None:
            raise Unauthorized("token signed with an unknown key")
        key = jwk
    else:
        raise Unauthorized(f"unsupported token algorithm {alg!r}")
    try:
        claims = jwt.decode(token, key, algorithms=[alg], audience=settings.jwt_audience,
                            # python-jose skips the audience check when the claim is absent:
                            # require it (and exp, sub) so a token minted for another audience
                            # or none at all is refused.
                            options={"require_aud": True, "require_exp": True, "require_sub": True})
    except JWTError as exc:
        raise Unauthorized(f"invalid token: {exc}") from None
    if claims.get("role") != "authenticated":
        raise Unauthorized("token is not for a signed-in user")
    try:
        return user_principal(claims)
    except ValueError:
        raise Unauthorized("token subject is not a user id") from None


def api_key_principal(row: dict) -> Principal:
    return org_principal(UUID(str(row["organization_id"])), row["role"], kind="api_key",
                         api_key_id=UUID(str(row["id"])))


def mint_dev_token(user_id: UUID, settings: Settings, *, ttl_s: int = 7 * 24 * 3600,
                   email: str | None = None) -> str:
    """A Supabase-shaped user token signed with the HS256 secret (dev and tests only)."""
    now = int(time.time())
    claims = {"sub": str(user_id), "aud": settings.jwt_audience, "role": "authenticated",
              "iat": now, "exp": now + ttl_s, "email": email}
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")
