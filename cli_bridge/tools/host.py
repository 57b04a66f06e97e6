"""The proxy's own MCP server for client tools: streamable HTTP on a loopback port.

One listener for every CLI process, started with the first tool request; each process gets
its own session at `/mcp/<secret>` (a fresh 256-bit secret, written only to that process's
private `--mcp-config` file, never to argv). A proxy-hosted server costs no process per turn:
measured with 2.1.332, the CLI listed the tools 0.4-0.7 s after spawn and reported the server
connected in `system/init` (a Python stdio server delays `system/init` to ~1 s, §16).
Requests from anywhere but loopback, with another Host, or for an unknown secret get a 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TypedDict

import uvicorn
from starlette.types import Receive, Scope, Send

from ..protocol.client_tools import SERVER_NAME, ToolSet
from .session import ToolSession

log = logging.getLogger("cli_bridge.tools")

LOOPBACK = "127.0.0.1"


class ToolStats(TypedDict):
    """The `tools` section of /health: MCP sessions open, calls waiting for a client."""

    sessions: int
    pending_calls: int


class _QuietServer(uvicorn.Server):
    """Leaves signals alone: they belong to the proxy's own server."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class ToolHost:
    def __init__(self) -> None:
        self._sessions: dict[str, ToolSession] = {}
        self._server: uvicorn.Server | None = None
        self._serving: asyncio.Task[None] | None = None
        self._port = 0
        self._lock = asyncio.Lock()

    @property
    def port(self) -> int:
        return self._port

    def stats(self) -> ToolStats:
        pending = sum(s.pending for s in self._sessions.values())
        return {"sessions": len(self._sessions), "pending_calls": pending}

    async def open(self, toolset: ToolSet) -> ToolSession:
        """A new session for one CLI process (the listener starts on first use)."""
        await self._listen()
        session = ToolSession(toolset, self._forget)
        try:
            await session.start()
        except BaseException:
            await session.close()
            raise
        self._sessions[session.secret] = session
        return session

    def config_for(self, session: ToolSession) -> str:
        """The `--mcp-config` JSON for the process that owns `session`."""
        url = f"http://{LOOPBACK}:{self._port}/mcp/{session.secret}"
        return json.dumps({"mcpServers": {SERVER_NAME: {"type": "http", "url": url}}})

    def write_config(self, session: ToolSession, path: Path) -> None:
        """Readable by the user only: the secret is the session's only key."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(self.config_for(session))

    def _forget(self, session: ToolSession) -> None:
        self._sessions.pop(session.secret, None)

    async def _listen(self) -> None:
        async with self._lock:
            if self._server is not None:
                return
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((LOOPBACK, 0))
            sock.listen(128)
            self._port = sock.getsockname()[1]
            config = uvicorn.Config(
                self._app,
                log_level="warning",
                lifespan="off",
                access_log=False,
                interface="asgi3",
                proxy_headers=False,  # the peer address is the socket's, never a header's
            )
            server = _QuietServer(config)
            serving = asyncio.create_task(server.serve(sockets=[sock]))
            while not server.started and not serving.done():
                await asyncio.sleep(0.005)
            if not server.started:
                sock.close()
                error = serving.exception() if not serving.cancelled() else None
                raise RuntimeError(f"the MCP server for client tools did not start: {error}")
            self._server, self._serving = server, serving
            log.info("client tools: MCP server on %s:%s", LOOPBACK, self._port)

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        session = self._route(scope)
        if session is None:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await session.handle(scope, receive, send)

    def _route(self, scope: Scope) -> ToolSession | None:
        client = scope.get("client")
        if not client or client[0] != LOOPBACK:
            return None
        headers = dict(scope.get("headers") or [])
        if headers.get(b"host", b"").decode("latin-1") != f"{LOOPBACK}:{self._port}":
            return None
        path: str = scope.get("path", "")
        prefix, _, secret = path.rpartition("/")
        if prefix != "/mcp":
            return None
        return self._sessions.get(secret)

    async def aclose(self) -> None:
        for session in list(self._sessions.values()):
            await session.close()
        if self._server is not None and self._serving is not None:
            self._server.should_exit = True
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(self._serving, 5)
        self._server = self._serving = None
