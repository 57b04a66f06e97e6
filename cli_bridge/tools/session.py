"""One CLI process's MCP server: the client's tools, and the calls waiting for the client.

The model's call of a client tool reaches the handler here; the handler waits until the
client's next HTTP request brings the result (claude-cli.md §16: the CLI holds the call open,
printing `tool_progress`), then returns it as plain text, so the model gets a real
`tool_result` with the client's own content. Calls are matched by the tool_use id the CLI
puts in `_meta` (`claudecode/toolUseId`); a result may arrive before its call does (the CLI
runs a message's calls one after another).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from typing import Any

import mcp_types as types
from mcp.server.lowlevel.server import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.types import Receive, Scope, Send

from ..protocol.client_tools import SERVER_NAME, ToolSet
from .answers import GONE, ToolAnswer

log = logging.getLogger("cli_bridge.tools")

TOOL_USE_ID_META = "claudecode/toolUseId"


class ToolSession:
    """The MCP endpoint of one CLI process, reached at `/mcp/<secret>` on the tool host."""

    def __init__(self, toolset: ToolSet, on_close: Callable[[ToolSession], None]) -> None:
        self.toolset = toolset
        self.secret = secrets.token_urlsafe(32)
        self.ready = asyncio.Event()  # the CLI has listed the tools: they are offered
        self._answers: dict[str, ToolAnswer] = {}
        self._waiting: dict[str, asyncio.Future[ToolAnswer]] = {}
        # Calls the CLI gave up on before an answer came (its request went away): a process
        # with such a call open goes on without the client, so it must not be continued.
        self.dropped: set[str] = set()
        self._on_close = on_close
        self._closed = False
        server: Server[Any] = Server(
            SERVER_NAME,
            instructions=toolset.instructions,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
        )
        self._manager = StreamableHTTPSessionManager(app=server, session_idle_timeout=None)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        running = asyncio.Event()
        self._task = asyncio.create_task(self._run(running))
        await running.wait()

    async def _run(self, running: asyncio.Event) -> None:
        async with self._manager.run():
            running.set()
            await self._stop.wait()

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._manager.handle_request(scope, receive, send)

    @property
    def pending(self) -> int:
        """Calls the model made that wait for the client."""
        return len(self._waiting)

    def answer(self, tool_use_id: str, answer: ToolAnswer) -> None:
        """Hand the client's result to its call, now or when the call arrives."""
        waiting = self._waiting.pop(tool_use_id, None)
        if waiting is not None and not waiting.done():
            waiting.set_result(answer)
        else:
            self._answers[tool_use_id] = answer

    async def close(self) -> None:
        """Release every waiting call (as an error the model would see) and stop serving."""
        if self._closed:
            return
        self._closed = True
        self._on_close(self)  # no new request reaches a manager that is stopping
        for waiting in self._waiting.values():
            if not waiting.done():
                waiting.set_result(ToolAnswer(GONE, is_error=True))
        self._waiting.clear()
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._task), 5)

    async def _list_tools(
        self, ctx: object, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        tools = [
            types.Tool(name=t.name, description=t.description, input_schema=t.schema)
            for t in self.toolset.tools
        ]
        self.ready.set()
        return types.ListToolsResult(tools=tools)

    async def _call_tool(
        self, ctx: object, params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        meta = params.meta or {}
        tool_use_id = meta.get(TOOL_USE_ID_META) if isinstance(meta, dict) else None
        if not isinstance(tool_use_id, str) or self._closed:
            return _result(ToolAnswer(GONE, is_error=True))
        answer = self._answers.pop(tool_use_id, None)
        if answer is None:
            waiting: asyncio.Future[ToolAnswer] = asyncio.get_running_loop().create_future()
            self._waiting[tool_use_id] = waiting
            try:
                answer = await waiting
            except asyncio.CancelledError:
                self.dropped.add(tool_use_id)
                raise
            finally:
                self._waiting.pop(tool_use_id, None)
        return _result(answer)


def _result(answer: ToolAnswer) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(text=answer.text)], is_error=answer.is_error
    )
