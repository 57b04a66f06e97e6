"""A whole turn answered as one JSON body, whatever the surface: the surface supplies only a
collector that turns CLI events into its object.

The response listens for the client while the turn runs: a client that goes away cancels the
turn, which kills its process, and nobody is answered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from cli_bridge import ProxyError
from cli_bridge.errors import CliFailed
from cli_bridge.protocol.events import CliEvent, Result, ToolCallsPending

from .errors import ErrorResponse

NO_RESULT = "The Claude CLI ended the turn without a result"


class RunningTurn(Protocol):
    """What the responses read from a turn (cli_bridge.Turn, or a fake in tests)."""

    async def next(self, timeout: float | None = None) -> CliEvent | None: ...

    def cancel(self) -> None: ...


class Collector(Protocol):
    """One surface's whole answer: fed every event before the end, then built from it (the
    result, or the engine's ToolCallsPending when the answer stops at client tool calls)."""

    def feed(self, event: CliEvent) -> None: ...

    def build(self, end: Result | ToolCallsPending) -> Mapping[str, Any]: ...


def no_result() -> CliFailed:
    """The turn ended without a `result` event: a failed CLI, for every surface alike."""
    return CliFailed(NO_RESULT)


async def collect(turn: RunningTurn, collector: Collector) -> Mapping[str, Any]:
    while (event := await turn.next()) is not None:
        if isinstance(event, Result | ToolCallsPending):
            return collector.build(event)
        collector.feed(event)
    raise no_result()


async def wait_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class TurnResponse(Response):
    """The collector's JSON body (200), or the turn's error in the request's surface envelope."""

    def __init__(
        self,
        turn: RunningTurn,
        collector: Collector,
        finished: Callable[[Mapping[str, Any]], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(status_code=200, media_type="application/json")
        self.turn = turn
        self.collector = collector
        self.finished = finished  # awaited with the body before it is sent

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        work = asyncio.create_task(collect(self.turn, self.collector))
        watch = asyncio.create_task(wait_for_disconnect(receive))
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
            body = work.result()
            if self.finished is not None:
                await self.finished(body)
            answer: Response = JSONResponse(body)
        except ProxyError as exc:
            await ErrorResponse(exc)(scope, receive, send)
            return
        await answer(scope, receive, send)
