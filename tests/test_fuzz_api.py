"""Property-based fuzzing of every operation in the OpenAPI document (schemathesis + hypothesis)
against the real app served over HTTP (uvicorn, real Postgres/Redis, fake hosted model).

Checks on every response: no 5xx, the status is documented for the operation, the content type
is the documented one, and every error is the JSON `{"error": {"code", "message"}}` body.
Half the cases use ids of real resources of the caller's organization, so fuzzed bodies reach
the services, not only the 404 of a random id. The example count is bounded for CI:
RENUM_FUZZ_EXAMPLES (default 6) per operation; raise it for a deeper run.
"""
from __future__ import annotations

import itertools
import os
import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from api.main import create_app
from tests.support.chat import HOSTED, base_url, hosted  # noqa: F401 (fixtures)
from tests.conftest import make_user

EXAMPLES = int(os.environ.get("RENUM_FUZZ_EXAMPLES", "6"))
schema = schemathesis.openapi.from_dict(create_app().openapi())
# Ids that must stay random: fuzzing DELETE /v1/organizations/{org_id} with the caller's own
# organization would end the run early (it is allowed, and tested elsewhere).
_NEVER_REAL = {"org_id", "membership_id"}


@schemathesis.check
def errors_are_json(ctx, response, case):
    if response.status_code >= 400:
        body = response.json()
        error = body.get("error") if isinstance(body, dict) else None
        if not (isinstance(error, dict) and isinstance(error.get("code"), str)
                and isinstance(error.get("message"), str)):
            raise AssertionError(f"error body is not {{'error': {{'code', 'message'}}}}: {response.text[:200]}")


@pytest.fixture(scope="module")
def world(client, admin_url, hosted, base_url):  # noqa: F811
    """An owner's token and one of each resource, so half the cases hit real rows."""
    user_id, token = make_user(admin_url)
    org = client.post("/v1/organizations", json={"name": "Fuzz", "slug": f"fz-{uuid.uuid4().hex[:10]}"},
                      headers={"Authorization": f"Bearer {token}"}).json()
    headers = {"Authorization": f"Bearer {token}", "X-Organization-Id": org["id"]}

    def make(path: str, body: dict) -> str:
        resp = client.post(path, json=body, headers=headers)
        assert resp.status_code in (200, 201), (path, resp.text)
        return resp.json()["id"]
    kb = make("/v1/knowledge-bases", {"name": "kb"})
    agent = make("/v1/agents", {"name": "fuzz", "model": HOSTED, "max_tokens": 16, "knowledge_base_ids": [kb]})
    contact = make("/v1/contacts", {"external_id": "fuzz-contact"})
    conversation = make(f"/v1/agents/{agent}/conversations", {"contact_id": contact})
    document = make(f"/v1/knowledge-bases/{kb}/documents/text", {"title": "t", "text": "Frete grátis."})
    webhook = make("/v1/webhooks", {"url": "https://example.com/hook"})
    real = {"kb_id": kb, "agent_id": agent, "contact_id": contact, "conversation_id": conversation,
            "document_id": document, "endpoint_id": webhook}
    return {"headers": headers, "real": real, "base_url": base_url, "turn": itertools.count()}


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_no_request_ends_in_a_server_error_or_an_undocumented_answer(case, world):
    if next(world["turn"]) % 2 == 0 and case.path_parameters:
        for name in case.path_parameters:
            if name in world["real"] and name not in _NEVER_REAL:
                case.path_parameters[name] = world["real"][name]
    headers = {**(case.headers or {}), **world["headers"]}
    response = case.call(base_url=world["base_url"], headers=headers, timeout=60)
    case.validate_response(response, checks=[not_a_server_error, status_code_conformance,
                                             content_type_conformance, errors_are_json])
