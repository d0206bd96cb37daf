"""HTTP rendering of errors: every error becomes {"error": {"code", "message"}}.

Domain errors (api/core/errors.py) render with their own status and code; database errors are
mapped to 4xx without echoing SQL or other tenants' identifiers; dependency outages are 503.
"""
from __future__ import annotations

import logging

import psycopg
import psycopg.errors as pg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.core.errors import DomainError

log = logging.getLogger("renum.errors")


def _body(code: str, message: str, **extra) -> dict:
    return {"error": {"code": code, "message": message, **extra}}


# SQLSTATE classes a client can cause; everything else is a 500 and gets logged.
_PG_MAP: list[tuple[type[Exception], int, str, str]] = [
    (pg.InsufficientPrivilege, 403, "forbidden", "your role does not allow this action"),
    (pg.UniqueViolation, 409, "conflict", "a resource with these unique fields already exists"),
    (pg.ForeignKeyViolation, 404, "not_found", "a referenced resource does not exist"),
    (pg.CheckViolation, 422, "invalid_request", "a value is outside its allowed range"),
    (pg.NotNullViolation, 422, "invalid_request", "a required value is missing"),
    (pg.InvalidTextRepresentation, 422, "invalid_request", "a value has an invalid format"),
    (pg.StringDataRightTruncation, 422, "invalid_request", "a value is too long"),
    (pg.NumericValueOutOfRange, 422, "invalid_request", "a number is out of range"),
    (pg.InvalidParameterValue, 422, "invalid_request", "a parameter has an invalid value"),
]


# A dependency outage (database restarting, pool exhausted, Redis down where it has no fallback)
# is the server's problem and temporary: 503 with a hint when to retry, never a bare 500.
OUTAGE_RETRY_AFTER_S = 5


def _outage(what: str, exc: Exception) -> JSONResponse:
    log.warning("%s unavailable: %s: %s", what, type(exc).__name__, exc)
    return JSONResponse(_body("service_unavailable", f"a service this request needs ({what}) is unavailable; "
                                                     "retry shortly"),
                        503, headers={"Retry-After": str(OUTAGE_RETRY_AFTER_S)})


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError):
        details = [{"loc": list(e.get("loc", [])), "msg": e.get("msg", ""), "type": e.get("type", "")}
                   for e in exc.errors()]
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"][1:]) or "body"
        return JSONResponse(_body("validation_error", f"{where}: {first['msg']}", details=details), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(exc.status_code,
                                                                                          "http_error")
        return JSONResponse(_body(code, str(exc.detail)), exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(pg.Error)
    async def _database(_: Request, exc: pg.Error):
        if isinstance(exc, psycopg.OperationalError):  # also psycopg_pool.PoolTimeout
            return _outage("database", exc)
        for cls, status, code, message in _PG_MAP:
            if isinstance(exc, cls):
                return JSONResponse(_body(code, message), status)
        log.exception("database error", exc_info=exc)
        return JSONResponse(_body("internal_error", "internal error"), 500)

    @app.exception_handler(RedisError)
    async def _redis(_: Request, exc: RedisError):
        if isinstance(exc, (RedisConnectionError, RedisTimeoutError)):
            return _outage("cache", exc)
        log.exception("redis error", exc_info=exc)
        return JSONResponse(_body("internal_error", "internal error"), 500)

    # One root: every error family subclasses DomainError (Starlette matches handlers by class
    # along the MRO, so this one registration covers them all).
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError):
        return JSONResponse(_body(exc.code, exc.message), exc.status_code,
                            headers=getattr(exc, "headers", None) or None)

    # Anything unexpected: still the JSON error shape (not Starlette's text/plain page), logged.
    async def _unexpected(_: Request, exc: Exception):
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(_body("internal_error", "internal error"), 500)

    app.add_exception_handler(Exception, _unexpected)
