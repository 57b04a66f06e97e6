"""POST /v1/messages: Anthropic Messages -> one CLI turn -> a Message or its SSE events.
POST /v1/messages/count_tokens: a 501 (the proxy has no tokenizer; a guess is no count)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from cli_bridge.errors import ProxyError
from cli_bridge.formats.anthropic_messages.controls import controls_from_body, shows_thinking
from cli_bridge.formats.anthropic_messages.request import (
    ImageConverter,
    has_tool_blocks,
    image_converter,
    image_urls,
    input_from_messages,
)
from cli_bridge.formats.anthropic_messages.response import MessageBuilder, message_id
from cli_bridge.formats.anthropic_messages.stream import MessageStreamEncoder
from cli_bridge.formats.anthropic_messages.tools import tool_plan
from cli_bridge.formats.tools_common import ToolPlan

from .. import state, turns
from ..images import fetch_images


class CountTokensUnsupported(ProxyError):
    status = 501
    type = "api_error"
    code = "not_implemented"


def messages_input(
    body: dict[str, Any], plan: ToolPlan, image: ImageConverter | None = None
) -> turns.TurnInput:
    cli = input_from_messages(body.get("system"), body["messages"], image=image, tools=plan.tools)
    return turns.TurnInput(
        cli.prompt,
        cli.system_prompt,
        cli.history,
        output_schema=plan.output_schema,
        tools=plan.tools,
    )


async def create_message(body: dict[str, Any]) -> Response:
    messages: list[dict[str, Any]] = body["messages"]  # validated against openapi.yaml
    controls = controls_from_body(body)  # a 400 for an option that cannot be honoured
    plan = tool_plan(body, has_tool_blocks(messages))  # 400 for tools it cannot offer
    # The answer names the model id the client asked for.
    ident, model, thinking = message_id(), body["model"], shows_thinking(body)
    reply: turns.Reply
    if body.get("stream"):
        reply = turns.Streamed(MessageStreamEncoder(ident, model, plan=plan, thinking=thinking))
    else:
        reply = turns.Collected(MessageBuilder(ident, model, plan=plan, thinking=thinking))

    async def convert() -> turns.TurnInput:
        # URL images are fetched here (after the model and the limits were checked).
        fetched = await fetch_images(image_urls(messages), state.current().settings)
        return messages_input(body, plan, image_converter(fetched))

    return await turns.answer(model, messages, convert, reply, controls=controls)


async def count_tokens(body: dict[str, Any]) -> Response:
    raise CountTokensUnsupported(
        "Token counting is not supported by this proxy: the Claude CLI has no count endpoint "
        "and a local estimate would not be the upstream's number. The `usage` of each answer "
        "is exact."
    )
