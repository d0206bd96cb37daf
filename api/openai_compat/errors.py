"""Errors in OpenAI's shape on the OpenAI-compatible routes.

OpenAI SDKs and chat UIs read `error.message`, `error.type`, `error.param` and `error.code`, and
OpenAI answers an invalid parameter with 400 (never 422). The routes use this route class, so
their validation and domain errors (including those of the auth and rate-limit dependencies)
are rendered here; the body keeps Renum's `code` and `message`, so it is a superset of the
`{"error": {"code", "message"}}` every other route returns.
"""
from __future__ import annotations

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from api.openai_compat.formatting import ERROR_TYPES


def openai_error(status: int, message: str, code: str, param: str | None = None,
                 headers: dict | None = None) -> JSONResponse:
    status = 400 if status == 422 else status
    body = {"error": {"message": message, "type": ERROR_TYPES.get(status, "server_error" if status >= 500
                                                                   else "invalid_request_error"),
                      "param": param, "code": code}}
    return JSONResponse(body, status, headers=headers or None)


def _validation(exc: RequestValidationError) -> JSONResponse:
    first = (exc.errors() or [{"loc": (), "msg": "invalid request", "type": ""}])[0]
    loc = [str(p) for p in first.get("loc", ())[1:]]
    param = ".".join(loc) or None
    message = str(first.get("msg", "invalid request")).removeprefix("Value error, ")
    kind = str(first.get("type", ""))
    code = "unsupported_parameter" if "supported" in message else (
        "missing_required_parameter" if kind == "missing" else "invalid_value")
    return openai_error(400, f"{param}: {message}" if param else message, code, param)


class OpenAIRoute(APIRoute):
    def get_route_handler(self):
        handler = super().get_route_handler()

        async def route(request):
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return _validation(exc)
            except Exception as exc:
                # Domain, LLM, document and prompt errors all carry these; anything else
                # (database errors, bugs) keeps the global handlers.
                status, code, message = (getattr(exc, a, None) for a in ("status_code", "code", "message"))
                if not (isinstance(status, int) and isinstance(code, str) and isinstance(message, str)):
                    raise
                return openai_error(status, message, code, headers=getattr(exc, "headers", None))
        return route
