"""A fake WhatsApp Cloud API (Graph API) on 127.0.0.1 for the WhatsApp channel tests.

Speaks the real shapes of `POST /{version}/{phone-number-id}/messages`: a Bearer token is
required (190 OAuthException otherwise), a sent message answers
`{"messaging_product": "whatsapp", "contacts": [{"input", "wa_id"}], "messages": [{"id": "wamid..."}]}`,
and scripted failures answer Graph's error envelope `{"error": {"message", "type", "code",
"error_subcode"?, "fbtrace_id"}}` with the status Meta uses: 429 + code 130429 (throughput
limit), 500 + code 1 (unknown, transient), 400 + code 131047 (re-engagement: the 24-hour
window is closed).
"""
from __future__ import annotations

import json
import re
import uuid
from collections import deque
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.local_server import LocalServer, Server

ERRORS = {
    429: {"message": "(#130429) Rate limit hit", "type": "OAuthException", "code": 130429,
          "error_data": {"messaging_product": "whatsapp", "details": "Cloud API message throughput has been reached."}},
    500: {"message": "An unknown error has occurred.", "type": "OAuthException", "code": 1, "is_transient": True},
    503: {"message": "Service temporarily unavailable", "type": "OAuthException", "code": 2, "is_transient": True},
    131047: {"message": "(#131047) Re-engagement message", "type": "OAuthException", "code": 131047,
             "error_data": {"messaging_product": "whatsapp",
                            "details": "Message failed to send because more than 24 hours have passed since the "
                                       "customer last replied to this number."}},
}
_PATH = re.compile(r"^/(v\d+\.\d+)/(\d+)/messages$")


class _Handler(BaseHTTPRequestHandler):
    server: Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        owner = self.server.owner
        match = _PATH.match(self.path)
        if not match:
            self._send(404, {"error": {"message": "Unknown path components", "type": "OAuthException",
                                       "code": 2500, "fbtrace_id": "fake"}})
            return
        body = json.loads(raw or b"{}")
        with owner.lock:
            outcome = owner.script.popleft() if owner.script else 200
            owner.attempts.append({"phone_number_id": match[2], "body": body,
                                   "authorization": self.headers.get("Authorization"), "status": outcome})
        if self.headers.get("Authorization") != f"Bearer {owner.token}":
            self._send(401, {"error": {"message": "Invalid OAuth access token - Cannot parse access token",
                                       "type": "OAuthException", "code": 190, "fbtrace_id": "fake"}})
            return
        if outcome != 200:
            status = 400 if outcome == 131047 else outcome
            self._send(status, {"error": {**ERRORS[outcome], "fbtrace_id": f"A{uuid.uuid4().hex[:20]}"}})
            return
        message_id = f"wamid.{uuid.uuid4().hex}"
        with owner.lock:
            owner.sent.append({"phone_number_id": match[2], "id": message_id, **body})
        self._send(200, {"messaging_product": "whatsapp", "contacts": [{"input": body.get("to"), "wa_id": body.get("to")}],
                         "messages": [{"id": message_id}]})


class FakeGraphAPI(LocalServer):
    """`sent`: messages accepted (the request body plus the wamid); `attempts`: every request;
    `fail(*outcomes)`: the next requests answer these (429, 500, 503 or 131047), in order."""

    def __init__(self, token: str):
        self.token = token
        self.sent: list[dict] = []
        self.attempts: list[dict] = []
        self.script: deque[int] = deque()
        super().__init__(_Handler, "fake-graph-api")

    def fail(self, *outcomes: int) -> None:
        with self.lock:
            self.script.extend(outcomes)

    def to(self, wa_id: str) -> list[dict]:
        with self.lock:
            return [m for m in self.sent if m.get("to") == wa_id]
