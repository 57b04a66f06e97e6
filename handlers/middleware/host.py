"""Host allow-list (DNS rebinding): starlette's TrustedHostMiddleware, refusing in the
surface's error envelope."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import ErrorResponse, HostNotAllowed
from ._text import shown

_HOST_OK = "claude_max_api.host_ok"


class HostGuard:
    """starlette's TrustedHostMiddleware, but its plain-text 400 becomes the envelope."""

    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str]) -> None:
        self.app = app
        self.check = TrustedHostMiddleware(self._accepted, list(allowed_hosts), www_redirect=False)

    async def _accepted(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[_HOST_OK] = True
        await self.app(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_unless_refused(message: Message) -> None:
            if scope.get(_HOST_OK):
                await send(message)

        await self.check(scope, receive, send_unless_refused)
        if not scope.get(_HOST_OK):
            host = shown(Headers(scope=scope).get("host", ""))
            error = HostNotAllowed(
                f"Host header {host!r} is not allowed. If this is how clients reach the proxy, "
                "start it with --allowed-host <name> (CLAUDE_PROXY_ALLOWED_HOSTS)."
            )
            await ErrorResponse(error)(scope, receive, send)
