"""The operator console: one HTML page plus static ES modules, served by the API itself.

The page is a client of the public API (it calls /v1 from the browser with the signed-in
user's bearer token), so roles and tenant isolation are exactly the API's. The server only
renders the shell with the public configuration (Supabase URL and anon key for sign-in);
there is no Node build step and no CDN.
"""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.core.config import get_settings

HERE = Path(__file__).resolve().parent
STATIC_PATH = "/console/static"
router = APIRouter(include_in_schema=False)
_templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))


def _version() -> str:
    # Cache-busting for the static modules: the newest file's mtime changes on every edit/deploy.
    return str(int(max(p.stat().st_mtime for p in (HERE / "static").rglob("*") if p.is_file())))


def _csp(settings) -> str:
    connect = "'self'" + (f" {settings.supabase_url}" if settings.supabase_url else "")
    return (f"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src {connect}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


@router.get("/console")
async def console() -> HTMLResponse:
    settings = get_settings()
    html = _templates.get_template("index.html").render(
        lang="en", static=STATIC_PATH, version=_version(),
        config={"supabase_url": settings.supabase_url, "supabase_anon_key": settings.supabase_anon_key})
    return HTMLResponse(html, headers={"Content-Security-Policy": _csp(settings), "X-Frame-Options": "DENY",
                                       "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"})


@router.get("/console/")
async def console_slash() -> RedirectResponse:
    return RedirectResponse("/console")


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount(STATIC_PATH, StaticFiles(directory=HERE / "static"), name="console-static")
