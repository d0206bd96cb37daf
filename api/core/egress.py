"""Outbound URL guard: tenants configure URLs (webhook endpoints, Chatwoot) that workers call.

Without a guard a tenant could point them at 127.0.0.1, the cloud metadata address or the
internal network and read or poke services from inside (SSRF). Outside dev and test (or
with RENUM_EGRESS_ALLOW_PRIVATE=true) every address the host resolves to must be public.
The check runs when a URL is saved and again right before each request (DNS may change).
"""
from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from api.core.config import get_settings
from api.core.errors import Unprocessable


class EgressBlocked(ValueError):
    """The URL's host is not a public internet address (or does not resolve)."""


def private_allowed() -> bool:
    s = get_settings()
    return s.egress_allow_private if s.egress_allow_private is not None else s.env in ("dev", "test")


def check_url(url: str) -> None:
    """Raise EgressBlocked unless `url`'s host resolves only to public addresses."""
    if private_allowed():
        return
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        raise EgressBlocked("the URL has no host")
    try:
        infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80),
                                   type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise EgressBlocked(f"the host {host} does not resolve") from exc
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address.is_global or address.is_multicast:
            raise EgressBlocked(f"the host {host} resolves to a non-public address ({address}); "
                                "only public internet addresses may receive requests")


async def require_public_url(url: str | None, field: str) -> None:
    """For a URL a tenant saves: 422 `url_not_allowed` naming `field` unless `url` (when given)
    passes check_url; the DNS lookup runs off the event loop."""
    if url is None:
        return
    try:
        await asyncio.to_thread(check_url, url)
    except EgressBlocked as exc:
        raise Unprocessable(f"{field}: {exc}", code="url_not_allowed") from exc
