"""Reading one answer from the CLI's events, for the OpenAI surfaces (chat and Responses).

What the model wrote — its text (joined by one rule, TextAssembler), the client's tool calls
(tool_calls.py) and the upstream's stop reason — is the same whatever shape a surface gives
it, so both surfaces read it here and only render it: whole (`WholeAnswer`) or as it streams
(`StreamedAnswer`). Pure: fed parsed events.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..protocol.events import (
    AssistantBlock,
    BlockStart,
    CliEvent,
    InputJsonDelta,
    MessageDelta,
    MessageStart,
    TextDelta,
)
from ..protocol.text import TextAssembler
from .openai_chat.tool_calls import ToolCallDelta, ToolCalls
from .tools_common import NO_TOOLS, ToolPlan


class WholeAnswer:
    """The answer's text, calls and stop reason, read from its whole blocks."""

    def __init__(self, plan: ToolPlan = NO_TOOLS) -> None:
        self.plan = plan
        self.calls = ToolCalls(single=plan.single)
        self.stop_reason: str | None = None
        self._text = TextAssembler()
        self._parts: list[str] = []

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def feed(self, event: CliEvent) -> None:
        if isinstance(event, AssistantBlock) and event.kind == "text" and not event.is_api_error:
            self._parts.append(self._text.on_text(event.message_id, event.text))
        elif isinstance(event, AssistantBlock) and self.plan.calls_surfaced:
            self.calls.block(event)
        elif isinstance(event, MessageDelta) and event.stop_reason:
            self.stop_reason = event.stop_reason


@dataclass
class Piece:
    """What one event adds to a streamed answer: text, tool-call deltas, or nothing."""

    text: str = ""
    calls: list[ToolCallDelta] = field(default_factory=list)


class StreamedAnswer:
    """The answer as it streams: each event's new text and call deltas (calls are shown
    once their block is whole, tool_calls.py)."""

    def __init__(self, plan: ToolPlan = NO_TOOLS) -> None:
        self.plan = plan
        self.calls = ToolCalls(single=plan.single)
        self.stop_reason: str | None = None
        self._text = TextAssembler()
        # The API message being streamed (CLI 2.1.197 and older omit `api_message_id` on
        # stream events, so the id comes from `message_start`), and every streamed message.
        self._message_id: str | None = None
        self._streamed: set[str | None] = set()

    def feed(self, event: CliEvent) -> Piece:
        surfaced = self.plan.calls_surfaced
        if isinstance(event, MessageStart):
            self._message_id = event.message_id
            self._streamed.add(event.message_id)
        elif isinstance(event, BlockStart) and event.kind == "text":
            self._text.on_block_start(event.message_id or self._message_id)
        elif isinstance(event, BlockStart) and surfaced:
            key = (event.message_id or self._message_id, event.index)
            return Piece(calls=self.calls.start(key, event))
        elif isinstance(event, InputJsonDelta) and surfaced:
            key = (event.message_id or self._message_id, event.index)
            return Piece(calls=self.calls.fragment(key, event.partial_json))
        elif isinstance(event, TextDelta):
            message_id = event.message_id or self._message_id
            self._streamed.add(message_id)
            return Piece(self._text.on_text(message_id, event.text))
        elif (
            isinstance(event, AssistantBlock)
            and event.kind == "text"
            and not event.is_api_error
            and event.message_id not in self._streamed
        ):
            # A message that came without stream events: the CLI's non-streaming fallback
            # after a stalled or failed stream. Its text arrives whole, only here.
            return Piece(self._text.on_text(event.message_id, event.text))
        elif isinstance(event, AssistantBlock) and surfaced:
            return Piece(calls=self.calls.block(event))
        elif isinstance(event, MessageDelta) and event.stop_reason:
            self.stop_reason = event.stop_reason
        return Piece()
