"""The client tool calls of one answer, as OpenAI's `tool_calls` (whole or as stream deltas).

Only calls of the client's own tools are surfaced (client_tool_name); a Claude Code
built-in or the CLI's StructuredOutput never is. A call is known by its tool_use id, so one
seen in the stream and again as a whole block (or in ToolCallsPending) is surfaced once.
Stream events of a block are keyed by (message id, block index): an answer can span several
upstream messages, each numbering its blocks from 0. Pure: no I/O.
"""

from __future__ import annotations

import json
import secrets
from typing import Literal, TypedDict

from ...protocol.client_tools import client_tool_name
from ...protocol.events import AssistantBlock, BlockStart, ToolCallsPending

BlockKey = tuple[str | None, int]


class FunctionCall(TypedDict):
    name: str
    arguments: str  # JSON text


class MessageToolCall(TypedDict):
    """One entry of `message.tool_calls` (openapi.yaml ChatCompletionMessageToolCall)."""

    id: str
    type: Literal["function"]
    function: FunctionCall


class FunctionDelta(TypedDict, total=False):
    name: str
    arguments: str


class ToolCallDelta(TypedDict, total=False):
    """One entry of a chunk's `delta.tool_calls` (ChatCompletionMessageToolCallChunk)."""

    index: int
    id: str
    type: Literal["function"]
    function: FunctionDelta


def forced_call(name: str, arguments: str) -> MessageToolCall:
    """The answer of a forced function (`tool_choice` naming it): the structured object as
    one call. Its id is the proxy's own (no tool_use happened), `call_` as OpenAI's are."""
    return {
        "id": f"call_{secrets.token_hex(12)}",
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }


def whole_delta(index: int, call: MessageToolCall) -> ToolCallDelta:
    """A call in one delta (a copy: the call's arguments may still grow)."""
    fn = call["function"]
    return {
        "index": index,
        "id": call["id"],
        "type": "function",
        "function": {"name": fn["name"], "arguments": fn["arguments"]},
    }


class ToolCalls:
    """The calls surfaced so far (`calls`, in order; `index` in a stream = position here).
    `single`: only the first call is surfaced (`parallel_tool_calls: false`)."""

    def __init__(self, *, single: bool = False) -> None:
        self.single = single
        self.calls: list[MessageToolCall] = []
        self._blocks: dict[BlockKey, int] = {}

    def _open(self, tool_id: str | None, name: str | None, arguments: str) -> int | None:
        if name is None or not tool_id or any(c["id"] == tool_id for c in self.calls):
            return None
        if self.single and self.calls:
            return None
        function: FunctionCall = {"name": name, "arguments": arguments}
        self.calls.append({"id": tool_id, "type": "function", "function": function})
        return len(self.calls) - 1

    def start(self, key: BlockKey, event: BlockStart) -> list[ToolCallDelta]:
        """A tool_use block begins: id, type and name, arguments to follow."""
        if event.kind != "tool_use":
            return []
        index = self._open(event.tool_id, client_tool_name(event.tool_name or ""), "")
        if index is None:
            return []
        self._blocks[key] = index
        return [whole_delta(index, self.calls[index])]

    def fragment(self, key: BlockKey, partial_json: str) -> list[ToolCallDelta]:
        """A piece of the arguments of a block `start` surfaced."""
        index = self._blocks.get(key)
        if index is None or not partial_json:
            return []
        self.calls[index]["function"]["arguments"] += partial_json
        return [{"index": index, "function": {"arguments": partial_json}}]

    def block(self, event: AssistantBlock) -> list[ToolCallDelta]:
        """A whole tool_use block (the CLI prints one per block; already surfaced from the
        stream, it adds nothing)."""
        if event.kind != "tool_use":
            return []
        arguments = json.dumps(event.tool_input or {}, ensure_ascii=False)
        index = self._open(event.tool_id, client_tool_name(event.tool_name or ""), arguments)
        return [] if index is None else [whole_delta(index, self.calls[index])]

    def pending(self, event: ToolCallsPending) -> list[ToolCallDelta]:
        """The engine's list of the answer's calls: any not surfaced yet, whole."""
        out: list[ToolCallDelta] = []
        for call in event.calls:
            index = self._open(call.id, call.name, call.arguments)
            if index is not None:
                out.append(whole_delta(index, self.calls[index]))
        return out
