"""A running turn as a Server-Sent Events stream, whatever the surface.

This module owns what every surface's stream shares: failures before the upstream answers
keep their HTTP status, keep-alives while the CLI is silent, the client's disconnect cancels
the turn (which kills its process), later failures become a final error event, and the
terminator. A surface supplies only a `StreamEncoder` that turns CLI events into payload dicts;
framing them as `data:` (or `event:` + `data:`) lines is done here.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol, TypeAlias

from starlette.responses import Response, StreamingResponse

from cli_bridge import ProxyError
from cli_bridge.protocol.events import CliEvent, MessageStart, Result, TextDelta, ToolCallsPending

from .errors import RENDERERS, Surface, note
from .turn_response import RunningTurn, no_result

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
KEEPALIVE = ": keep-alive\n\n"

Payload: TypeAlias = Mapping[str, Any]


class StreamEncoder(Protocol):
    """One surface's events. Pure: it sees CLI events and returns payloads, no I/O.

    `event_names`: send each payload as `event: <payload type>` + `data:` (Anthropic, OpenAI
    Responses) rather than `data:` alone (OpenAI chat).
    """

    @property
    def event_names(self) -> bool: ...

    def opening(self) -> Sequence[Payload]:
        """Sent as soon as the stream opens (role chunk, message_start, response.created)."""
        ...

    def feed(self, event: CliEvent) -> Sequence[Payload]: ...

    def finish(self, end: Result | ToolCallsPending) -> Sequence[Payload]:
        """The last payloads of a successful turn (ended by its result, or at client tool
        calls)."""
        ...

    def error(self, body: Payload) -> Sequence[Payload]:
        """A failure after the stream opened; `body` is the surface's rendered error."""
        ...

    def done(self) -> str | None:
        """Raw data of a final terminator event (`[DONE]`), or None for none."""
        ...


def frame(payload: Payload, *, named: bool) -> str:
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    if named:
        return f"event: {payload['type']}\ndata: {data}\n\n"
    return f"data: {data}\n\n"


def _opens_stream(event: CliEvent) -> bool:
    """The upstream has begun answering: from here on, failures are sent as events."""
    return isinstance(event, MessageStart | TextDelta | Result | ToolCallsPending)


async def open_stream(
    turn: RunningTurn,
    encoder: StreamEncoder,
    *,
    surface: Surface,
    keepalive: float,
    finished: Callable[[], Awaitable[None]] | None = None,
) -> Response:
    """Start an SSE response once the upstream has begun answering.

    Failures before that point (CLI missing, 401, 429 ...) are raised, so they keep their HTTP
    status; after it they become the encoder's error event, rendered for `surface`. If the CLI
    stays silent longer than one keep-alive interval, the stream opens anyway so client
    watchdogs see keep-alives.
    """
    early: list[CliEvent] = []
    deadline = time.monotonic() + keepalive
    try:
        while (remaining := deadline - time.monotonic()) > 0:
            event = await turn.next(timeout=remaining)
            if event is None:  # ended without a result before anything was sent: a status
                raise no_result()
            early.append(event)
            if _opens_stream(event):
                break
    except TimeoutError:
        pass
    except BaseException:
        turn.cancel()
        raise
    stream = _events(turn, encoder, early, surface=surface, keepalive=keepalive, finished=finished)
    return StreamingResponse(stream, media_type="text/event-stream", headers=SSE_HEADERS)


async def _events(
    turn: RunningTurn,
    encoder: StreamEncoder,
    early: list[CliEvent],
    *,
    surface: Surface,
    keepalive: float,
    finished: Callable[[], Awaitable[None]] | None = None,
) -> AsyncIterator[str]:
    named = encoder.event_names
    try:
        for payload in encoder.opening():
            yield frame(payload, named=named)
        pending = list(early)
        while True:
            if pending:
                event: CliEvent | None = pending.pop(0)
            else:
                try:
                    event = await turn.next(timeout=keepalive)
                except TimeoutError:
                    yield KEEPALIVE
                    continue
            if event is None:
                raise no_result()
            if isinstance(event, Result | ToolCallsPending):
                last = encoder.finish(event)
                if finished is not None:
                    await finished()
                for payload in last:
                    yield frame(payload, named=named)
                break
            for payload in encoder.feed(event):
                yield frame(payload, named=named)
    except ProxyError as exc:
        note(exc)
        for payload in encoder.error(RENDERERS[surface](exc)):
            yield frame(payload, named=named)
    finally:
        turn.cancel()  # also when the client left: starlette closes this generator
    terminator = encoder.done()
    if terminator is not None:
        yield f"data: {terminator}\n\n"
