"""A shop's catalog export on 127.0.0.1: GET serves the current body with an ETag and answers
304 to a matching If-None-Match, like a CDN or an e-commerce platform's feed URL."""
from __future__ import annotations

import hashlib
from http.server import BaseHTTPRequestHandler
from typing import Any


from tests.fakes.local_server import LocalServer, Server

class _Handler(BaseHTTPRequestHandler):
    server: Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        owner = self.server.owner
        with owner.lock:
            body, content_type = owner.body, owner.content_type
            owner.requests.append({k.lower(): v for k, v in self.headers.items()})
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class CatalogFeed(LocalServer):
    def __init__(self) -> None:
        self.body, self.content_type = b"[]", "application/json"
        self.requests: list[dict] = []
        super().__init__(_Handler, "catalog-feed")

    def serve(self, body: bytes, content_type: str = "application/json") -> None:
        with self.lock:
            self.body, self.content_type = body, content_type

    @property
    def url(self) -> str:
        return self.base_url + "/export"
