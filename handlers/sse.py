"""HTTP responses that follow a running CLI turn: one JSON body, or an SSE stream.

Both watch the client: a client that goes away cancels the turn, which kills its process.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from cli_bridge import ProxyError, Turn
from cli_bridge.errors import CliFailed
from cli_bridge.formats.openai_chat.response import ChunkBuilder, CompletionBuilder
from cli_bridge.protocol.events import CliEvent, MessageStart, Result, TextDelta

from .errors import ErrorResponse, openai_body

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
KEEPALIVE = ": keep-alive\n\n"
DONE = "data: [DONE]\n\n"
NO_RESULT = "The Claude CLI ended the turn without a result"


def sse_data(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False, separators=(',', ':'))}\n\n"


async def collect_completion(turn: Turn, builder: CompletionBuilder) -> dict[str, Any]:
    async for event in turn:
        if isinstance(event, Result):
            return builder.build(event)
        builder.feed(event)
    raise CliFailed(NO_RESULT)


class CompletionResponse(Response):
    """A `chat.completion` JSON body, produced while listening for the client's disconnect."""

    def __init__(self, turn: Turn, builder: CompletionBuilder) -> None:
        super().__init__(status_code=200, media_type="application/json")
        self.turn = turn
        self.builder = builder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        work = asyncio.create_task(collect_completion(self.turn, self.builder))
        watch = asyncio.create_task(_wait_for_disconnect(receive))
        try:
            await asyncio.wait({work, watch}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            watch.cancel()
            if not work.done():  # the client left: kill the CLI, answer nobody
                work.cancel()
                self.turn.cancel()
        if not work.done() or work.cancelled():  # the client left: answer nobody
            return
        try:
            response: Response = JSONResponse(work.result())
        except ProxyError as exc:
            response = ErrorResponse(exc)  # type: ignore[assignment]
        await response(scope, receive, send)


async def _wait_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def open_stream(
    turn: Turn, builder: ChunkBuilder, *, include_usage: bool, keepalive: float
) -> Response:
    """Start an SSE response once the upstream has begun answering.

    Failures before that point (CLI missing, 401, 429 ...) keep their HTTP status; after it
    they become a final `data: {"error": ...}` event. If the CLI stays silent longer than one
    keep-alive interval, the stream opens anyway so client watchdogs see keep-alives.
    """
    early: list[CliEvent] = []
    deadline = time.monotonic() + keepalive
    try:
        while (remaining := deadline - time.monotonic()) > 0:
            event = await turn.next(timeout=remaining)
            if event is None:
                break
            early.append(event)
            if isinstance(event, MessageStart | TextDelta | Result):
                break
    except TimeoutError:
        pass
    except BaseException:
        turn.cancel()
        raise
    stream = _sse(turn, builder, early, include_usage=include_usage, keepalive=keepalive)
    return StreamingResponse(stream, media_type="text/event-stream", headers=SSE_HEADERS)


async def _sse(
    turn: Turn,
    builder: ChunkBuilder,
    early: list[CliEvent],
    *,
    include_usage: bool,
    keepalive: float,
) -> AsyncIterator[str]:
    try:
        yield sse_data(builder.first())
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
                raise CliFailed(NO_RESULT)
            if isinstance(event, Result):
                for chunk in builder.finish(event, include_usage):
                    yield sse_data(chunk)
                break
            for chunk in builder.feed(event):
                yield sse_data(chunk)
    except ProxyError as exc:
        yield sse_data(openai_body(exc))
    finally:
        turn.cancel()
    yield DONE
