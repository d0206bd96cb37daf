import anyio
from fastapi import APIRouter, Response
from sse_starlette import EventSourceResponse

from api.chat import service as chat_service
from api.chat import stopping
from api.chat.deps import TransactionsDep
from api.core.deps import OrgId, RedisDep, SessionDep
from api.openai_compat import formatting, service
from api.openai_compat.schemas import CompletionRequest, ModelList

router = APIRouter(tags=["openai-compatible"])
SSE_PING_S = 15
CONVERSATION_HEADER = "X-Renum-Conversation-Id"


@router.get("/v1/models", response_model=ModelList)
async def list_models(session: SessionDep, org_id: OrgId):
    """List the organization's agents as OpenAI models (id `agent:<uuid>`)."""
    return ModelList(data=await service.list_models(session, org_id))


@router.post("/v1/chat/completions", responses={200: {"content": {"text/event-stream": {}}}})
async def create_chat_completion(body: CompletionRequest, tx: TransactionsDep, redis: RedisDep, response: Response):
    """OpenAI-compatible chat with an agent; `user` is the contact's external id (enables memory)."""
    prepared = await service.prepare(tx, body)
    agent = prepared.agent
    turn = await chat_service.begin(
        tx, redis, agent["id"], prepared.conversation_id, prepared.question,
        client_message_id=body.metadata.client_message_id, turns=prepared.turns, instructions=prepared.instructions,
        memory=not prepared.anonymous, max_tokens=body.max_completion_tokens or body.max_tokens,
        temperature=body.temperature, contact_limit=not prepared.anonymous)
    headers = {CONVERSATION_HEADER: str(prepared.conversation_id)}
    max_tokens = turn.max_tokens or agent["max_tokens"]
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        shutdown = anyio.Event()
        events = formatting.chunks(stopping.until_shutdown(chat_service.stream(turn), shutdown),
                                   user_message_id=turn.question["id"], model=body.model,
                                   max_tokens=max_tokens, include_usage=include_usage)
        return EventSourceResponse(events, ping=SSE_PING_S, sep="\n", headers=headers, shutdown_event=shutdown,
                                   shutdown_grace_period=stopping.GRACE_S)
    reply = await chat_service.complete(turn)
    response.headers.update(headers)
    return formatting.completion(reply, body.model, max_tokens)
