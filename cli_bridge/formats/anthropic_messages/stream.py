"""CLI events -> Anthropic's streaming events, for handlers/sse.py (`event:` + `data:`).

The sequence is Anthropic's: `message_start` (then one `ping`) when the upstream begins,
then per content block `content_block_start`, its deltas (`text_delta`, `input_json_delta`,
`thinking_delta` when the client asked for thinking) and `content_block_stop`, then
`message_delta` (`stop_reason`, `stop_sequence`, the usage) and `message_stop`. Blocks are
numbered for the client from 0 across the whole answer (an answer can span several upstream
messages, each numbering its own blocks, and the CLI's own tool calls are never shown). A
failure after the stream opened is one `error` event, the last. Keep-alives while the CLI is
silent are SSE comments (sse.py), which Anthropic clients skip as they skip `ping`. The text
and the blocks are the ones response.py's MessageBuilder collects. Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ...protocol.client_tools import client_tool_name
from ...protocol.events import (
    AssistantBlock,
    BlockStart,
    CliEvent,
    InputJsonDelta,
    MessageDelta,
    MessageStart,
    TextDelta,
    ThinkingDelta,
    ToolCallsPending,
)
from ...protocol.text import TextAssembler
from ...protocol.wire import Usage
from ..tools_common import NO_TOOLS, ToolPlan
from .response import TurnEnd, call_input, forced_use, stop_of, usage_of

Payload = dict[str, Any]
BlockKey = tuple[str | None, int]


class MessageStreamEncoder:
    """Anthropic SSE payloads for one answer (a handlers.sse StreamEncoder)."""

    event_names = True

    def __init__(
        self, ident: str, model: str, *, plan: ToolPlan = NO_TOOLS, thinking: bool = False
    ) -> None:
        self.ident = ident
        self.model = model
        self.plan = plan
        self.thinking = thinking
        self._started = False
        self._text = TextAssembler()
        self._open: tuple[str, int] | None = None  # (kind, client index) of the open block
        self._next = 0
        self._blocks: dict[BlockKey, int] = {}  # CLI block -> client index (tool, thinking)
        self._calls: set[str] = set()
        self._streamed: set[str | None] = set()
        self._message_id: str | None = None
        self._stop_reason: str | None = None

    # -- framing helpers

    def _start(self, usage: Usage | None = None) -> list[Payload]:
        if self._started:
            return []
        self._started = True
        message: Payload = {
            "id": self.ident,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage_of(usage),
        }
        return [{"type": "message_start", "message": message}, {"type": "ping"}]

    def _close(self) -> list[Payload]:
        if self._open is None:
            return []
        _, index = self._open
        self._open = None
        return [{"type": "content_block_stop", "index": index}]

    def _begin(self, kind: str, block: Payload) -> tuple[int, list[Payload]]:
        out = [*self._start(), *self._close()]
        index = self._next
        self._next += 1
        self._open = (kind, index)
        out.append({"type": "content_block_start", "index": index, "content_block": block})
        return index, out

    def _delta(self, index: int, delta: Payload) -> Payload:
        return {"type": "content_block_delta", "index": index, "delta": delta}

    def _text_piece(self, piece: str) -> list[Payload]:
        if not piece:
            return []
        out: list[Payload] = []
        if self._open is None or self._open[0] != "text":
            _, out = self._begin("text", {"type": "text", "text": ""})
        assert self._open is not None
        out.append(self._delta(self._open[1], {"type": "text_delta", "text": piece}))
        return out

    def _call(
        self, ident: str | None, name: str | None, *, forced: bool = False
    ) -> tuple[int, list[Payload]] | None:
        """Open a tool_use block for a call of the client tool `name` not surfaced yet
        (`forced`: the forced tool's answer, which is no call the model made)."""
        if not ident or name is None or ident in self._calls:
            return None
        if not forced and (not self.plan.calls_surfaced or (self.plan.single and self._calls)):
            return None
        self._calls.add(ident)
        return self._begin("tool_use", {"type": "tool_use", "id": ident, "name": name, "input": {}})

    def _whole_call(
        self, ident: str | None, name: str | None, given: object, *, forced: bool = False
    ) -> list[Payload]:
        opened = self._call(ident, name, forced=forced)
        if opened is None:
            return []
        index, out = opened
        partial = json.dumps(given, ensure_ascii=False)
        return [*out, self._delta(index, {"type": "input_json_delta", "partial_json": partial})]

    def _key(self, message_id: str | None, index: int) -> BlockKey:
        return (message_id or self._message_id, index)

    # -- the StreamEncoder protocol

    def opening(self) -> list[Payload]:
        return []  # message_start waits for the upstream's (it carries the input usage)

    def feed(self, event: CliEvent) -> list[Payload]:
        if self.plan.output_schema is not None:
            return self._start(event.usage) if isinstance(event, MessageStart) else []
        if isinstance(event, MessageStart):
            self._message_id = event.message_id
            self._streamed.add(event.message_id)
            return self._start(event.usage)
        if isinstance(event, BlockStart):
            return self._block_start(event)
        if isinstance(event, TextDelta):
            message_id = event.message_id or self._message_id
            self._streamed.add(message_id)
            return self._text_piece(self._text.on_text(message_id, event.text))
        if isinstance(event, InputJsonDelta | ThinkingDelta):
            index = self._blocks.get(self._key(event.message_id, event.index))
            if index is None or self._open is None or self._open[1] != index:
                return []
            if isinstance(event, ThinkingDelta):
                return [self._delta(index, {"type": "thinking_delta", "thinking": event.text})]
            if not event.partial_json:
                return []
            return [
                self._delta(index, {"type": "input_json_delta", "partial_json": event.partial_json})
            ]
        if isinstance(event, AssistantBlock) and not event.is_api_error:
            if event.message_id in self._streamed:
                return []  # its stream events came already
            if event.kind == "text":  # the CLI's non-streaming fallback: the text whole
                return self._text_piece(self._text.on_text(event.message_id, event.text))
            if event.kind == "tool_use":
                name = client_tool_name(event.tool_name or "")
                return self._whole_call(event.tool_id, name, event.tool_input or {})
        if isinstance(event, MessageDelta) and event.stop_reason:
            self._stop_reason = event.stop_reason
        return []

    def _block_start(self, event: BlockStart) -> list[Payload]:
        key = self._key(event.message_id, event.index)
        if event.kind == "text":
            self._text.on_block_start(key[0])
            return []
        if event.kind == "thinking" and self.thinking:
            block = {"type": "thinking", "thinking": "", "signature": ""}
            self._blocks[key], out = self._begin("thinking", block)
            return out
        if event.kind == "tool_use":
            opened = self._call(event.tool_id, client_tool_name(event.tool_name or ""))
            if opened is not None:
                self._blocks[key], out = opened
                return out
        return []

    def finish(self, end: TurnEnd) -> list[Payload]:
        out = self._start()
        if isinstance(end, ToolCallsPending):
            for call in end.calls:
                out += self._whole_call(call.id, call.name, call_input(call))
        elif self.plan.forced is not None:
            use = forced_use(self.plan, end)
            out += self._whole_call(use["id"], use["name"], use["input"], forced=True)
        out += self._close()
        reason, sequence = stop_of(end, self._stop_reason, self.plan)
        delta = {"stop_reason": reason, "stop_sequence": sequence}
        out.append({"type": "message_delta", "delta": delta, "usage": usage_of(end.usage)})
        out.append({"type": "message_stop"})
        return out

    def error(self, body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        return [body]

    def done(self) -> None:
        return None
