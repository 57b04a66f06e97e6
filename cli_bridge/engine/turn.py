"""A running chat turn, read through a queue.

The CLI is read by its own task, so the HTTP side can wait with timeouts (keep-alives, first
event) without ever cancelling the read itself; cancelling the turn kills the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator

from ..errors import CliFailed, ProxyError
from ..protocol.events import CliEvent

log = logging.getLogger("cli_bridge.turn")


class _End:
    """Queued after the last event: the turn is over."""


_END = _End()


class Turn:
    def __init__(self, events: AsyncGenerator[CliEvent, None]) -> None:
        self._queue: asyncio.Queue[CliEvent | ProxyError | _End] = asyncio.Queue()
        self._done = False
        self._task = asyncio.create_task(self._pump(events))

    async def _pump(self, events: AsyncGenerator[CliEvent, None]) -> None:
        try:
            async with contextlib.aclosing(events) as stream:
                async for event in stream:
                    self._queue.put_nowait(event)
        except ProxyError as exc:
            self._queue.put_nowait(exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must still end the request, not hang it
            log.exception("CLI turn failed unexpectedly")
            self._queue.put_nowait(CliFailed(f"Internal error while reading the CLI: {exc!r}"))
        self._queue.put_nowait(_END)

    async def next(self, timeout: float | None = None) -> CliEvent | None:
        """The next event; None once the turn has ended. Raises the turn's ProxyError, or
        TimeoutError when nothing arrived within `timeout` (the turn keeps running)."""
        if self._done:
            return None
        if not self._queue.empty():  # the common case while streaming: no timer, no task
            item = self._queue.get_nowait()
        else:
            async with asyncio.timeout(timeout):
                item = await self._queue.get()
        if isinstance(item, _End):
            self._done = True
            return None
        if isinstance(item, ProxyError):
            self._done = True
            raise item
        return item

    def cancel(self) -> None:
        """Abandon the turn: its process is killed (SIGTERM, then SIGKILL)."""
        self._done = True
        self._task.cancel()

    async def __aiter__(self) -> AsyncIterator[CliEvent]:
        while (event := await self.next()) is not None:
            yield event
