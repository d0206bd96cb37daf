"""A real HTTP server speaking the part of Supabase Auth (GoTrue) the console uses:

- POST /auth/v1/token?grant_type=password   {email, password}  -> a session
- POST /auth/v1/token?grant_type=refresh_token {refresh_token}  -> a new session
- POST /auth/v1/otp {email, ...}                                 -> {} (magic link "sent", recorded)
- CORS preflight, as the hosted service answers browsers.

Sessions carry an access token signed like the project's (HS256 with the JWT secret, claims
sub/aud/role/email/exp), which the API verifies for real. Every request must carry the anon
key in `apikey`, as Supabase requires.
"""
from __future__ import annotations

import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from jose import jwt

ANON_KEY = "fake-anon-key"


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _cors(self) -> None:
        self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin") or "*")
        self.send_header("Access-Control-Allow-Headers", "apikey, authorization, content-type, x-client-info")
        self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self._cors()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_OPTIONS(self) -> None:
        self.send_response(204)
        self._cors()
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        self.server.requests.append({"path": self.path, "body": body})
        if self.headers.get("apikey") != ANON_KEY:
            return self._json(401, {"message": "Invalid API key"})
        url = urlparse(self.path)
        grant = parse_qs(url.query).get("grant_type", [""])[0]
        if url.path == "/auth/v1/token" and grant == "password":
            user = self.server.users.get(body.get("email"))
            if not user or user["password"] != body.get("password"):
                return self._json(400, {"error": "invalid_grant", "error_description": "Invalid login credentials"})
            return self._json(200, self.server.session(user))
        if url.path == "/auth/v1/token" and grant == "refresh_token":
            user = self.server.refresh.pop(body.get("refresh_token"), None)
            if not user:
                return self._json(400, {"error": "invalid_grant", "error_description": "Invalid Refresh Token"})
            return self._json(200, self.server.session(user))
        if url.path == "/auth/v1/otp":
            return self._json(200, {})
        return self._json(404, {"message": "not found"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, jwt_secret: str, audience: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.jwt_secret, self.audience = jwt_secret, audience
        self.users: dict[str, dict] = {}
        self.refresh: dict[str, dict] = {}
        self.requests: list[dict] = []
        self.ttl_s = 3600

    def session(self, user: dict) -> dict:
        now = int(time.time())
        token = jwt.encode({"sub": user["id"], "aud": self.audience, "role": "authenticated", "email": user["email"],
                            "iat": now, "exp": now + self.ttl_s}, self.jwt_secret, algorithm="HS256")
        refresh = secrets.token_urlsafe(16)
        self.refresh[refresh] = user
        return {"access_token": token, "token_type": "bearer", "expires_in": self.ttl_s, "refresh_token": refresh,
                "user": {"id": user["id"], "email": user["email"], "aud": self.audience, "role": "authenticated"}}


class FakeSupabaseAuth:
    def __init__(self, jwt_secret: str, audience: str = "authenticated") -> None:
        self._server = _Server(jwt_secret, audience)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def requests(self) -> list[dict]:
        return self._server.requests

    def add_user(self, user_id: str, email: str, password: str) -> None:
        self._server.users[email] = {"id": user_id, "email": email, "password": password}

    def start(self) -> "FakeSupabaseAuth":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
