"""CLI events -> one Anthropic `Message` (non-streaming), and what stream.py shares with it:
stop reasons, usage, the forced tool's answer.

`content` holds the blocks in the order the model wrote them: text (the turn's text joined
as every surface joins it, protocol/text.py), `tool_use` blocks of the client's own tools
(prefix stripped, ids as the model made them), and `thinking` blocks only when the client
asked for thinking. An answer that stops at client tool calls (ToolCallsPending) ends with
`stop_reason: "tool_use"`; a forced tool (`tool_choice` naming it) answers with one
`tool_use` of it holding the checked object. Pure: no I/O.
"""

from __future__ import annotations

import json
import secrets
from typing import Any, Literal, TypeAlias, TypedDict

from ...engine.structured import output_text
from ...protocol.client_tools import ToolCall, client_tool_name
from ...protocol.events import (
    AssistantBlock,
    CliEvent,
    MessageDelta,
    Result,
    ToolCallsPending,
)
from ...protocol.text import TextAssembler
from ...protocol.wire import Usage
from ..tools_common import NO_TOOLS, ToolPlan

TurnEnd: TypeAlias = Result | ToolCallsPending
StopReason: TypeAlias = Literal[
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "pause_turn",
    "refusal",
    "model_context_window_exceeded",
]
STOP_REASONS: tuple[StopReason, ...] = (
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "pause_turn",
    "refusal",
    "model_context_window_exceeded",
)


class MessageUsage(TypedDict):
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int


class Message(TypedDict):
    """`message` (openapi.yaml Message)."""

    id: str
    type: Literal["message"]
    role: Literal["assistant"]
    model: str
    content: list[dict[str, Any]]
    stop_reason: StopReason | None
    stop_sequence: str | None
    usage: MessageUsage


def message_id() -> str:
    return f"msg_{secrets.token_hex(12)}"


def usage_of(usage: Usage | None) -> MessageUsage:
    given = usage or {}
    return {
        "input_tokens": given.get("input_tokens", 0),
        "output_tokens": given.get("output_tokens", 0),
        "cache_creation_input_tokens": given.get("cache_creation_input_tokens", 0),
        "cache_read_input_tokens": given.get("cache_read_input_tokens", 0),
    }


def stop_of(end: TurnEnd, seen: str | None, plan: ToolPlan) -> tuple[StopReason, str | None]:
    """The answer's `stop_reason` and `stop_sequence`."""
    if isinstance(end, ToolCallsPending) or plan.forced is not None:
        return "tool_use", None
    if plan.output_schema is not None:
        return "end_turn", None
    reason = end.stop_reason or seen
    sequence = end.raw.get("stop_sequence")
    if reason == "stop_sequence" and isinstance(sequence, str):
        return "stop_sequence", sequence
    if reason == "tool_use":  # a call of a tool the client never sees: its turn went on
        return "end_turn", None
    for known in STOP_REASONS:
        if reason == known:
            return known, None
    return "end_turn", None


def tool_use(ident: str, name: str, given: object) -> dict[str, Any]:
    return {"type": "tool_use", "id": ident, "name": name, "input": given}


def call_input(call: ToolCall) -> object:
    try:
        parsed = json.loads(call.arguments or "{}")
    except ValueError:
        parsed = {}
    return parsed if isinstance(parsed, dict) else {}


def forced_use(plan: ToolPlan, end: Result) -> dict[str, Any]:
    """The forced tool's answer: one call holding the checked object (its id the proxy's)."""
    assert plan.forced is not None
    return tool_use(f"toolu_{secrets.token_hex(12)}", plan.forced, json.loads(output_text(end)))


def thinking_block(event: AssistantBlock) -> dict[str, Any]:
    message = event.raw.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    block = content[0] if isinstance(content, list) and content else {}
    signature = block.get("signature") if isinstance(block, dict) else None
    return {
        "type": "thinking",
        "thinking": event.text,
        "signature": signature if isinstance(signature, str) else "",
    }


class MessageBuilder:
    """Collects a whole turn into one `message` (a handlers.turn_response Collector).
    `plan`: the request's tools; `thinking`: return thinking blocks."""

    def __init__(
        self, ident: str, model: str, *, plan: ToolPlan = NO_TOOLS, thinking: bool = False
    ) -> None:
        self.ident = ident
        self.model = model
        self.plan = plan
        self.thinking = thinking
        self._text = TextAssembler()
        self._content: list[dict[str, Any]] = []
        self._calls: set[str] = set()
        self._stop_reason: str | None = None

    def _add_text(self, piece: str) -> None:
        if not piece:
            return
        if self._content and self._content[-1]["type"] == "text":
            self._content[-1]["text"] += piece
        else:
            self._content.append({"type": "text", "text": piece})

    def _add_call(self, ident: str | None, name: str | None, given: object) -> None:
        if not ident or name is None or ident in self._calls:
            return
        if self.plan.single and self._calls:
            return
        self._calls.add(ident)
        self._content.append(tool_use(ident, name, given))

    def feed(self, event: CliEvent) -> None:
        if self.plan.output_schema is not None:
            return  # a forced tool: the answer is the checked object alone
        if isinstance(event, AssistantBlock) and not event.is_api_error:
            if event.kind == "text":
                self._add_text(self._text.on_text(event.message_id, event.text))
            elif event.kind == "thinking" and self.thinking:
                self._content.append(thinking_block(event))
            elif event.kind == "tool_use" and self.plan.calls_surfaced:
                name = client_tool_name(event.tool_name or "")
                self._add_call(event.tool_id, name, event.tool_input or {})
        elif isinstance(event, MessageDelta) and event.stop_reason:
            self._stop_reason = event.stop_reason

    def build(self, end: TurnEnd) -> Message:
        if isinstance(end, ToolCallsPending):
            for call in end.calls:
                self._add_call(call.id, call.name, call_input(call))
        elif self.plan.forced is not None:
            self._content = [forced_use(self.plan, end)]
        reason, sequence = stop_of(end, self._stop_reason, self.plan)
        return {
            "id": self.ident,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": self._content,
            "stop_reason": reason,
            "stop_sequence": sequence,
            "usage": usage_of(end.usage),
        }
