"""POST /v1/chat/completions: request -> bridge turn -> completion or SSE stream."""

from __future__ import annotations

import time
import uuid
from typing import Any

from starlette.responses import Response

from cli_bridge import CliRequest
from cli_bridge.formats.openai_chat.request import conversation_from_messages, input_from_messages
from cli_bridge.formats.openai_chat.response import ChunkBuilder, CompletionBuilder

from .. import limits, security, state
from ..middleware import access
from ..sse import CompletionResponse, open_stream


async def create_chat_completion(body: dict[str, Any]) -> Response:
    app = state.current()
    entry = app.catalogue.resolve(body["model"])
    access.note_model(entry.id)
    limits.check_messages(
        body["messages"],
        max_messages=app.settings.max_messages,
        max_chars=app.settings.max_message_chars,
    )
    cli_input = input_from_messages(body["messages"])
    request = CliRequest(
        entry.cli_model,
        cli_input.prompt,
        cli_input.system_prompt,
        conversation=conversation_from_messages(body["messages"]),
        owner=security.caller_id(),
    )

    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    model = body["model"]  # answer with the id the client asked for
    turn = app.bridge.start_turn(request)
    if body.get("stream"):
        options = body.get("stream_options") or {}
        return await open_stream(
            turn,
            ChunkBuilder(completion_id, created, model),
            include_usage=bool(options.get("include_usage")),
            keepalive=app.settings.keepalive_interval,
        )
    return CompletionResponse(turn, CompletionBuilder(completion_id, created, model))
