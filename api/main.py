"""The FastAPI application."""
import logging
import os
from contextlib import asynccontextmanager

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from fastapi import FastAPI  # noqa: E402

from api.agents.router import router as agents_router  # noqa: E402
from api.analytics.router import router as analytics_router  # noqa: E402
from api.api_keys.router import router as api_keys_router  # noqa: E402
from api.catalog.router import router as catalog_router  # noqa: E402
from api.channels.router import router as channels_router  # noqa: E402
from api.chat.router import router as chat_router  # noqa: E402
from api.contacts.router import router as contacts_router  # noqa: E402
from api.conversations.router import router as conversations_router  # noqa: E402
from api.console import router as console  # noqa: E402
from api.core.config import get_settings  # noqa: E402
from api.core.db import async_pool  # noqa: E402
from api.core.edge import EdgeGuard  # noqa: E402
from api.core import openapi  # noqa: E402
from api.core.error_handlers import install_error_handlers  # noqa: E402
from api.core.redis import async_client as redis_client  # noqa: E402
from api.documents.router import router as documents_router  # noqa: E402
from api.health.router import router as health_router  # noqa: E402
from api.knowledge_bases.router import router as knowledge_bases_router  # noqa: E402
from api.memberships.router import router as memberships_router  # noqa: E402
from api.memory.router import router as memory_router  # noqa: E402
from api.onboarding import openapi as onboarding_openapi  # noqa: E402
from api.openai_compat.router import router as openai_router  # noqa: E402
from api.organizations.router import router as organizations_router  # noqa: E402
from api.prompt_studio.router import router as prompt_studio_router  # noqa: E402
from api.search.router import router as search_router  # noqa: E402
from api.system.router import router as system_router  # noqa: E402
from api.webhooks.router import router as webhooks_router  # noqa: E402

ROUTERS = [health_router, organizations_router, memberships_router, api_keys_router, knowledge_bases_router,
           agents_router, contacts_router, memory_router, search_router, documents_router,
           conversations_router, chat_router, openai_router, webhooks_router, channels_router, catalog_router,
           analytics_router, system_router, prompt_studio_router]


@asynccontextmanager
async def lifespan(app: FastAPI):
    settings = get_settings()
    if not settings.database_url or not settings.redis_url:
        raise RuntimeError("DATABASE_URL and REDIS_URL must be set (./renum run sets them for local use)")
    app.state.db = async_pool(settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max,
                              timeout=settings.db_pool_timeout_s)
    await app.state.db.open(wait=True, timeout=30)
    app.state.redis = redis_client(settings.redis_url)
    try:
        yield
    finally:
        await app.state.db.close()
        await app.state.redis.aclose()


def create_app() -> FastAPI:
    logging.basicConfig(level=logging.INFO)
    app = FastAPI(title="Renum", version="0.1.0", lifespan=lifespan,
                  description="Multi-tenant backend for AI agents that remember their customers.")
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(EdgeGuard)  # body size, JSON depth, NUL/surrogates: before any route parses
    openapi.install(app)  # every operation documents the error statuses and their real body
    console.install(app)
    onboarding_openapi.install(app)  # security schemes and examples, on top of the error statuses
    return app


app = create_app()
