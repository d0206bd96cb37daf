from uuid import UUID

import anyio
from fastapi import APIRouter, Response, status
from sse_starlette import EventSourceResponse

from api.chat import service, streaming
from api.chat.deps import TransactionsDep
from api.chat.schemas import ChatResponse, SendMessage
from api.core.deps import RedisDep

router = APIRouter(tags=["chat"])
SSE_PING_S = 15  # keeps proxies from closing a stream while a slow local model thinks

_RESPONSES = {
    200: {"model": ChatResponse, "description": "the stored answer to a retried client_message_id",
          "content": {"text/event-stream": {"description": "with stream=true: delta, citations, done | error"}}},
    409: {"description": "conversation_busy (another message is being answered) or conversation_closed"},
    429: {"description": "rate limit of the key, user, organization or contact"},
    503: {"description": "no model could answer; the message is stored (retry with its client_message_id)"},
}


@router.post("/v1/agents/{agent_id}/conversations/{conversation_id}/messages", status_code=status.HTTP_201_CREATED,
             response_model=ChatResponse, responses=_RESPONSES)
async def send_message(agent_id: UUID, conversation_id: UUID, body: SendMessage, tx: TransactionsDep,
                       redis: RedisDep, response: Response):
    """Send the customer's message and get the agent's answer, as JSON or as server-sent events."""
    turn = await service.begin(tx, redis, agent_id, conversation_id, body.content,
                               client_message_id=body.client_message_id)
    if body.stream:
        shutdown = anyio.Event()
        return EventSourceResponse(streaming.native_events(streaming.until_shutdown(service.stream(turn), shutdown)),
                                   ping=SSE_PING_S, shutdown_event=shutdown, shutdown_grace_period=streaming.GRACE_S)
    reply = await service.complete(turn)
    if reply.replayed:
        response.status_code = status.HTTP_200_OK
    return streaming.response_body(reply)
