"""POST /v1/chat/completions: OpenAI chat messages -> one CLI turn -> completion or SSE stream."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

from starlette.responses import Response

from cli_bridge.formats.openai_chat.controls import controls_from_body
from cli_bridge.formats.openai_chat.request import (
    ChatMessage,
    has_tool_messages,
    input_from_messages,
)
from cli_bridge.formats.openai_chat.response import (
    ChatStreamEncoder,
    ChunkBuilder,
    CompletionBuilder,
)
from cli_bridge.formats.openai_chat.tools import NO_TOOLS, ToolPlan, tool_plan
from cli_bridge.formats.openai_chat.turns import ImageConverter

from .. import state, turns
from ..images import resolve_images


def chat_input(
    messages: Sequence[ChatMessage],
    metadata: object = None,
    image: ImageConverter | None = None,
    plan: ToolPlan = NO_TOOLS,
) -> turns.TurnInput:
    """`metadata.conversation_id` (OpenAI's free-form string map) names the conversation."""
    cli = input_from_messages(messages, image=image, tools=plan.tools)
    named = metadata.get("conversation_id") if isinstance(metadata, dict) else None
    conversation_id = named.strip() if isinstance(named, str) else ""
    return turns.TurnInput(
        cli.prompt,
        cli.system_prompt,
        cli.history,
        not cli.flattened,
        conversation_id or None,
        output_schema=plan.output_schema,
        tools=plan.tools,
    )


async def create_chat_completion(body: dict[str, Any]) -> Response:
    messages: list[ChatMessage] = body["messages"]  # validated against openapi.yaml
    controls = controls_from_body(body)  # a 400 for an option that cannot be honoured
    # The answer names the model id the client asked for.
    ids = (f"chatcmpl-{uuid.uuid4().hex}", int(time.time()), body["model"])
    # Tools, tool_choice and response_format: a 400 for what cannot be honoured.
    plan = tool_plan(body, has_tool_messages(messages))
    structured = plan.output_schema is not None
    reply: turns.Reply
    if body.get("stream"):
        options = body.get("stream_options") or {}
        include_usage = bool(options.get("include_usage"))
        chunks = ChunkBuilder(*ids, include_usage=include_usage, structured=structured, plan=plan)
        reply = turns.Streamed(ChatStreamEncoder(chunks))
    else:
        reply = turns.Collected(CompletionBuilder(*ids, structured=structured, plan=plan))
    metadata = body.get("metadata")

    async def convert() -> turns.TurnInput:
        # URL images are fetched here (after the model and the limits were checked), all at
        # once; the conversion reads them from `image`.
        image = await resolve_images(messages, state.current().settings)
        return chat_input(messages, metadata, image, plan)

    return await turns.answer(body["model"], messages, convert, reply, controls=controls)
