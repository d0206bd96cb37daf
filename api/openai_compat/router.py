import anyio
from fastapi import APIRouter, Request, Response
from sse_starlette import EventSourceResponse

from api.chat import service as chat_service
from api.chat import streaming
from api.chat.deps import TransactionsDep
from api.core.deps import OrgId, RedisDep, SessionDep, SettingsDep
from api.openai_compat import chat_ui, formatting, service, tasks
from api.openai_compat.errors import OpenAIRoute
from api.openai_compat.schemas import CompletionRequest, ModelCard, ModelList

router = APIRouter(tags=["openai-compatible"], route_class=OpenAIRoute)
SSE_PING_S = 15
CONVERSATION_HEADER = "X-Renum-Conversation-Id"
_ERRORS = {400: {"description": "invalid parameter: `{error: {message, type, param, code}}` as OpenAI sends it"},
           404: {"description": "model_not_found"}}


@router.get("/v1/models", response_model=ModelList, responses=_ERRORS)
async def list_models(session: SessionDep, org_id: OrgId):
    """List the organization's agents as OpenAI models (id `agent:<uuid>`)."""
    return ModelList(data=await service.list_models(session, org_id))


@router.get("/v1/models/{model_id}", response_model=ModelCard, responses=_ERRORS)
async def retrieve_model(model_id: str, session: SessionDep, org_id: OrgId):
    """One agent as an OpenAI model (`agent:<uuid>`, or its unique name)."""
    return await service.get_model(session, org_id, model_id)


@router.post("/v1/chat/completions", responses={200: {"content": {"text/event-stream": {}}}, **_ERRORS})
async def create_chat_completion(body: CompletionRequest, tx: TransactionsDep, redis: RedisDep, response: Response,
                                 request: Request, settings: SettingsDep):
    """OpenAI-compatible chat with an agent; `user` (or a chat UI's user header) is the contact's external id."""
    if chat_ui.is_task(body, settings):
        async with tx() as session:
            agent = await service.resolve_agent(session, tx.org_id, body.model)
        if body.stream:
            return EventSourceResponse(tasks.chunks(tx, agent, body), ping=SSE_PING_S, sep="\n")
        return await tasks.complete(tx, agent, body)
    prepared = await service.prepare(tx, body, chat_ui.identify(body, request.headers, settings))
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
        events = formatting.chunks(streaming.until_shutdown(chat_service.stream(turn), shutdown),
                                   user_message_id=turn.question["id"], model=body.model,
                                   max_tokens=max_tokens, include_usage=include_usage)
        return EventSourceResponse(events, ping=SSE_PING_S, sep="\n", headers=headers, shutdown_event=shutdown,
                                   shutdown_grace_period=streaming.GRACE_S)
    reply = await chat_service.complete(turn)
    response.headers.update(headers)
    return formatting.completion(reply, body.model, max_tokens)
