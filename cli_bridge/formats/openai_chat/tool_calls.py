"""The client tool calls of one answer, as OpenAI's `tool_calls` (whole or as stream deltas).

Only calls of the client's own tools are surfaced (client_tool_name); a Claude Code
built-in or the CLI's StructuredOutput never is. A call is known by its tool_use id, so one
seen in the stream and again as a whole block (or in ToolCallsPending) is surfaced once.
Stream events of a block are keyed by (message id, block index): an answer can span several
upstream messages, each numbering its blocks from 0. A streamed call is held back until its
block is complete (the CLI's whole `assistant` block, just before the block ends): a stream
that breaks off mid-block (the CLI then asks again without streaming) never shows the client
a call that was not made. Its deltas then go out as OpenAI's do: id, type and name first,
then the arguments in the pieces the model wrote them. Pure: no I/O.
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
        self._started: dict[str, list[str]] = {}  # tool_use id -> argument pieces so far
        self._blocks: dict[BlockKey, str] = {}  # stream block -> its tool_use id

    def _open(self, tool_id: str | None, name: str | None, arguments: str) -> int | None:
        if name is None or not tool_id or any(c["id"] == tool_id for c in self.calls):
            return None
        if self.single and self.calls:
            return None
        function: FunctionCall = {"name": name, "arguments": arguments}
        self.calls.append({"id": tool_id, "type": "function", "function": function})
        return len(self.calls) - 1

    def start(self, key: BlockKey, event: BlockStart) -> list[ToolCallDelta]:
        """A tool_use block begins: noted, shown once it is complete (`block`)."""
        if event.kind == "tool_use" and event.tool_id:
            self._blocks[key] = event.tool_id
            self._started.setdefault(event.tool_id, [])
        return []

    def fragment(self, key: BlockKey, partial_json: str) -> list[ToolCallDelta]:
        """A piece of the arguments of a started block: kept for `block`."""
        tool_id = self._blocks.get(key)
        if tool_id is not None and partial_json:
            self._started[tool_id].append(partial_json)
        return []

    def block(self, event: AssistantBlock) -> list[ToolCallDelta]:
        """A whole tool_use block (the CLI prints one per block): the call, as one delta with
        its id and name, then one per argument piece the stream carried (or one delta with
        them all when it was not streamed)."""
        if event.kind != "tool_use" or not event.tool_id:
            return []
        pieces = self._started.pop(event.tool_id, [])
        whole = json.dumps(event.tool_input or {}, ensure_ascii=False)
        name = client_tool_name(event.tool_name or "")
        index = self._open(event.tool_id, name, "" if pieces else whole)
        if index is None:
            return []
        out = [whole_delta(index, self.calls[index])]
        for piece in pieces:
            self.calls[index]["function"]["arguments"] += piece
            out.append({"index": index, "function": {"arguments": piece}})
        return out

    def pending(self, event: ToolCallsPending) -> list[ToolCallDelta]:
        """The engine's list of the answer's calls: any not surfaced yet, whole."""
        out: list[ToolCallDelta] = []
        for call in event.calls:
            index = self._open(call.id, call.name, call.arguments)
            if index is not None:
                out.append(whole_delta(index, self.calls[index]))
        return out
