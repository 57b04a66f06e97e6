"""A running turn ended early: before the client's first stop sequence, or where the
upstream first stopped at the client's output limit.

The CLI cannot stop at a client's sequences, so this wrapper reads the turn's events and
cuts the text itself. And when the upstream ends a message with `stop_reason: "max_tokens"`
the CLI asks it to resume ("Output token limit hit. Resume directly…"), so the answer would
run past the client's limit: the turn ends at that first message instead.

The text is joined as every surface joins it (TextAssembler) and passes a StopMatcher; what
it releases goes on as one synthetic text stream that both a streaming encoder (TextDelta)
and a collector (AssistantBlock) turn into exactly that text. When a stop sequence completes
(or the limit is hit) the CLI turn is cancelled — its process is killed, never parked, as it
holds an answer the client never saw — and a `Result` with `stop_reason` `stop_sequence` (or
`max_tokens`) ends the turn. Everything else (thinking, message starts, errors) passes on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from cli_bridge.formats.stops import StopMatcher
from cli_bridge.protocol.events import (
    AssistantBlock,
    BlockStart,
    CliEvent,
    MessageDelta,
    MessageStart,
    Result,
    TextDelta,
    ToolCallsPending,
)
from cli_bridge.protocol.text import TextAssembler

from .turn_response import RunningTurn

# The one message id the released text is sent under, so no encoder adds a separator itself.
STOPPED_TEXT_ID = "msg_stop_filtered"


def _released(text: str) -> list[CliEvent]:
    if not text:
        return []
    return [
        TextDelta(STOPPED_TEXT_ID, 0, text),
        AssistantBlock(STOPPED_TEXT_ID, "text", text),
    ]


def stopped_result(
    text: str, stop_reason: str = "stop_sequence", sequence: str | None = None
) -> Result:
    """The end of a turn cut short. Its usage is unknown (the CLI was stopped before its
    `result`), so it is reported as zero. `sequence`: the stop sequence met, kept in `raw`
    as `stop_sequence` (Anthropic's answer names it)."""
    return Result(
        subtype="success",
        is_error=False,
        text=text,
        usage={},
        stop_reason=stop_reason,
        terminal_reason=stop_reason,
        api_error_status=None,
        errors=[],
        session_id=None,
        raw={"stop_sequence": sequence} if sequence is not None else {},
    )


@dataclass
class StopAtSequences:
    """`turn` with its text cut before the first of `stops`, and with `at_length` ended at
    the first message the upstream cut at the output limit (a RunningTurn itself)."""

    turn: RunningTurn
    stops: Sequence[str] = ()
    at_length: bool = False
    _matcher: StopMatcher = field(init=False)
    _assembler: TextAssembler = field(init=False, default_factory=TextAssembler)
    _streamed: set[str | None] = field(init=False, default_factory=set)
    _ready: list[CliEvent] = field(init=False, default_factory=list)
    _text: list[str] = field(init=False, default_factory=list)
    _ended: bool = field(init=False, default=False)
    _cut: str | None = field(init=False, default=None)  # the stop_reason it was cut with

    def __post_init__(self) -> None:
        self._matcher = StopMatcher(self.stops)

    def _release(self, piece: str) -> None:
        out = self._matcher.feed(piece) if piece else ""
        self._text.append(out)
        self._ready += _released(out)
        if self._matcher.hit is not None:
            self._cut = "stop_sequence"

    def _take(self, event: CliEvent) -> None:
        """Queue what `event` becomes for the client."""
        if isinstance(event, MessageStart):
            self._streamed.add(event.message_id)
            self._ready.append(event)
        elif isinstance(event, BlockStart) and event.kind == "text":
            self._assembler.on_block_start(event.message_id)
        elif isinstance(event, TextDelta):
            self._streamed.add(event.message_id)
            self._release(self._assembler.on_text(event.message_id, event.text))
        elif isinstance(event, AssistantBlock) and event.kind == "text" and not event.is_api_error:
            if event.message_id not in self._streamed:  # the CLI's non-streaming fallback
                self._release(self._assembler.on_text(event.message_id, event.text))
        elif isinstance(event, MessageDelta) and event.stop_reason == "max_tokens":
            if self.at_length:  # what was held back began no stop sequence after all
                self._release_rest()
                self._cut = "max_tokens"
            self._ready.append(event)
        elif isinstance(event, Result | ToolCallsPending):
            self._release_rest()
            self._ready.append(event)
            self._ended = True
        else:
            self._ready.append(event)

    def _release_rest(self) -> None:
        self._text.append(rest := self._matcher.flush())
        self._ready += _released(rest)

    async def next(self, timeout: float | None = None) -> CliEvent | None:
        while not self._ready:
            if self._ended:
                return None
            event = await self.turn.next(timeout)
            if event is None:
                self._ended = True
                return None
            self._take(event)
            if self._cut is not None and not self._ended:
                self.turn.cancel()  # the CLI's turn is over for the client: kill it
                self._ended = True
                text, hit = "".join(self._text), self._matcher.hit
                self._ready.append(stopped_result(text, self._cut, hit))
        return self._ready.pop(0)

    def cancel(self) -> None:
        self._ended = True
        self._ready.clear()
        self.turn.cancel()
