"""A plain HTTP server on 127.0.0.1 that records every POST and answers scripted statuses.

Stands in for a customer's webhook receiver and for Chatwoot's API in the webhook and
channel tests: the worker sends real HTTP to it.
"""
from __future__ import annotations

import json
from collections import defaultdict, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any


from tests.fakes.local_server import LocalServer, Server

@dataclass(frozen=True)
class Recorded:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class _Handler(BaseHTTPRequestHandler):
    server: Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        owner = self.server.owner
        with owner.lock:
            owner.requests.append(Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            script = owner.scripts[self.path.split("?")[0]]
            status = script.popleft() if script else owner.default_status
            answer = owner.bodies.get(self.path.split("?")[0])
        data = answer if answer is not None else json.dumps({"id": len(owner.requests)}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class HttpRecorder(LocalServer):
    def __init__(self, default_status: int = 200):
        self.default_status = default_status
        self.requests: list[Recorded] = []
        self.scripts: dict[str, deque[int]] = defaultdict(deque)
        self.bodies: dict[str, bytes] = {}  # path -> response body (default: {"id": n})
        super().__init__(_Handler, "http-recorder")

    def url(self, path: str) -> str:
        return self.base_url + path

    def script(self, path: str, *statuses: int) -> None:
        """The next requests to `path` get these statuses, in order; then default_status."""
        with self.lock:
            self.scripts[path].extend(statuses)

    def to(self, path: str) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.path.split("?")[0] == path]
