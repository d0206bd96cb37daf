from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.core.deps import OrgId, RedisDep
from api.system import service

router = APIRouter(prefix="/v1/system", tags=["system"])


class ModelStatus(BaseModel):
    name: str = Field(description="a model group of the LiteLLM config (what agents name as `model`)")
    available: bool = Field(description="false: its API key is not set; agents using it answer with the local model")
    local: bool


class SystemStatus(BaseModel):
    models: list[ModelStatus]
    local_model: dict = Field(description="whether this API process has loaded the in-process GGUF model, or talks to a model server")
    queues: dict[str, int | None] = Field(description="tasks waiting per worker queue (null: Redis unreachable)")


@router.get("/status", response_model=SystemStatus)
async def system_status(org_id: OrgId, redis: RedisDep):
    """Chat models this deployment routes to, the local model, and worker queue depths."""
    return SystemStatus(models=service.models(), local_model=service.local_model(),
                        queues=await service.queue_depths(redis))
