"""The OpenAPI document says what the server really answers.

FastAPI documents only the success response and its own 422 shape (`HTTPValidationError`),
which is not the body we send. Every operation gets the error statuses any request can get
(auth, limits, validation, rate limits, outages), all with the one body the handlers in
api/core/errors.py and api/core/edge.py render, so schema-driven clients and fuzzers agree
with the server (tests/test_fuzz_api.py checks it).
"""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_STATUSES: dict[str, str] = {
    "400": "Bad request (e.g. an invalid pagination cursor or a body that cannot be parsed)",
    "401": "Missing or invalid credentials",
    "403": "Your role does not allow this action",
    "404": "Not found (also another organization's resources)",
    "409": "Conflict with the resource's current state",
    "413": "The request body or upload is over its size limit",
    "415": "Unsupported document type",
    "422": "Invalid input: validation, NUL characters, JSON nested too deeply, oversized metadata",
    "429": "Rate limited (see Retry-After)",
    "503": "A dependency (model, broker) is unavailable; retry later",
}

ERROR_SCHEMA: dict[str, Any] = {
    "title": "ErrorBody",
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string", "description": "stable machine-readable code"},
            "message": {"type": "string", "description": "what went wrong, for people"},
            "details": {"type": "array", "items": {"type": "object"},
                        "description": "validation errors: loc, msg, type"},
        },
    }},
}
_REF = {"$ref": "#/components/schemas/ErrorBody"}


def _document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    schema.setdefault("components", {}).setdefault("schemas", {})["ErrorBody"] = ERROR_SCHEMA
    schema["components"]["schemas"].pop("HTTPValidationError", None)
    schema["components"]["schemas"].pop("ValidationError", None)
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status, description in ERROR_STATUSES.items():
                entry = responses.setdefault(status, {"description": description})
                entry["content"] = {"application/json": {"schema": _REF}}
    return schema


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _document_errors(get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
