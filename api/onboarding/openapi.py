"""OpenAPI additions for newcomers: the two ways to authenticate, so /docs' "Authorize" button
works with the token `./renum run` prints (or an API key), and worked examples on the main
operations.

Applied as a post-processing step over whatever schema the app builds (other modules may
customise it too), and idempotent, so it composes with them.
"""
from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                   "description": "A Supabase user session token (locally: the dev token `./renum run` prints). "
                                  "Users in several organizations also send X-Organization-Id."},
    "apiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                   "description": "An organization API key (rnm_...), from POST /v1/api-keys. "
                                  "`Authorization: Bearer rnm_...` works too."},
}
PUBLIC = {"/healthz", "/readyz"}
AGENT = "7d0c1e9a-3f5b-4c1e-9a57-0a1b2c3d4e5f"
CONVERSATION = "1b2c3d4e-5f60-4a1b-8c2d-3e4f5a6b7c8d"

# (method, path) -> request body examples
REQUEST_EXAMPLES: dict[tuple[str, str], dict] = {
    ("post", "/v1/organizations"): {"acme": {"summary": "An organization", "value": {"name": "Loja Sol", "slug": "loja-sol"}}},
    ("post", "/v1/api-keys"): {"key": {"summary": "A key for a server integration",
                                       "value": {"name": "site", "role": "member"}}},
    ("post", "/v1/knowledge-bases"): {"pt": {"summary": "A Portuguese knowledge base",
                                             "value": {"name": "Políticas", "language": "portuguese"}}},
    ("post", "/v1/knowledge-bases/{kb_id}/documents/text"): {"policy": {"summary": "A short policy", "value": {
        "title": "Entregas", "text": "Entregamos em Recife em até 2 dias úteis. Frete grátis acima de R$ 150."}}},
    ("post", "/v1/agents"): {"grounded": {"summary": "An agent grounded on a knowledge base", "value": {
        "name": "Sol", "model": "renum-local", "knowledge_base_ids": ["<kb id>"], "timezone": "America/Sao_Paulo",
        "system_prompt": "Você é a assistente da Loja Sol. Responda em português, com base nas fontes."}}},
    ("post", "/v1/agents/{agent_id}/conversations"): {"customer": {"summary": "A conversation with a customer",
        "value": {"contact_external_id": "+5581999990000", "contact_name": "Joana"}}},
    ("post", "/v1/agents/{agent_id}/conversations/{conversation_id}/messages"): {
        "json": {"summary": "One message, JSON answer", "value": {"content": "Vocês entregam no sábado?",
                                                                  "client_message_id": "msg-001"}},
        "stream": {"summary": "Streamed (server-sent events)", "value": {"content": "E em Olinda?", "stream": True}}},
    ("post", "/v1/chat/completions"): {
        "openai": {"summary": "OpenAI-compatible, remembering the customer", "value": {
            "model": f"agent:{AGENT}", "user": "+5581999990000",
            "messages": [{"role": "user", "content": "Vocês entregam no sábado?"}]}},
        "continue": {"summary": "Continue a stored conversation", "value": {
            "model": f"agent:{AGENT}", "metadata": {"conversation_id": CONVERSATION},
            "messages": [{"role": "user", "content": "E em Olinda?"}], "stream": True}}},
    ("post", "/v1/search"): {"hybrid": {"summary": "Hybrid search over knowledge bases",
                                        "value": {"query": "prazo de entrega", "k": 5}}},
    ("post", "/v1/contacts/{contact_id}/memories/search"): {"recall": {"summary": "What an agent would recall",
        "value": {"query": "onde o cliente mora?", "k": 5}}},
}

# (method, path, status) -> one response example
RESPONSE_EXAMPLES: dict[tuple[str, str, str], dict] = {
    ("post", "/v1/agents/{agent_id}/conversations/{conversation_id}/messages", "201"): {
        "conversation_id": CONVERSATION,
        "user_message": {"id": "…", "role": "user", "content": "Vocês entregam no sábado?"},
        "message": {"id": "…", "role": "assistant", "content": "Sim, aos sábados entregamos pela manhã [1]."},
        "citations": [{"id": "…", "kind": "chunk", "rank": 1, "score": 0.032, "document_title": "Entregas",
                       "text": "Aos sábados entregamos somente pela manhã."}],
        "usage": {"prompt_tokens": 412, "completion_tokens": 18, "total_tokens": 430},
        "model": "renum-local", "latency_ms": 950, "replayed": False},
    ("get", "/v1/analytics/usage", "200"): {
        "start": "2026-11-01", "end": "2026-11-30", "timezone": "America/Sao_Paulo",
        "totals": {"messages": 1240, "user_messages": 620, "assistant_messages": 620, "turns": 620,
                   "prompt_tokens": 251000, "completion_tokens": 41000, "total_tokens": 292000, "cost_usd": 0.062},
        "by_day": [], "by_agent": [], "by_model": []},
}


def _operations(schema: dict):
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
            if isinstance(op, dict) and "responses" in op:
                yield path, method, op


def enrich(schema: dict) -> dict:
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    for path, method, op in _operations(schema):
        if path.startswith("/v1/") and not path.startswith("/v1/channels/"):  # channel webhooks sign instead
            op.setdefault("security", [{"bearerAuth": []}, {"apiKeyAuth": []}])
        body = op.get("requestBody", {}).get("content", {}).get("application/json")
        if body is not None and (method, path) in REQUEST_EXAMPLES:
            body["examples"] = REQUEST_EXAMPLES[(method, path)]
        for status, response in op.get("responses", {}).items():
            example = RESPONSE_EXAMPLES.get((method, path, status))
            content = response.get("content", {}).get("application/json")
            if example is not None and content is not None:
                content["example"] = example
    return schema


def install(app: FastAPI) -> None:
    """Wrap the app's schema builder (FastAPI's own, or one another module installed)."""
    build: Callable[[], dict] = app.openapi

    def openapi() -> dict:
        return enrich(build())
    app.openapi = openapi  # type: ignore[method-assign]
