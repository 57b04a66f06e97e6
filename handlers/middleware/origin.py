"""Origin allow-list: no cross-site browser request reaches the CLI."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import ErrorResponse, OriginNotAllowed
from ._text import shown


def same_origin(scope: Scope, headers: Headers) -> str:
    return f"{scope.get('scheme', 'http')}://{headers.get('host', '')}".lower()


class OriginGuard:
    """Browsers send `Origin` on every cross-site request that could have an effect (any
    POST, CORS reads, preflights). Such a request from an origin that is not ours and not
    allow-listed is refused, whatever its content type: a web page can never drive the CLI."""

    def __init__(self, app: ASGIApp, origins: Sequence[str]) -> None:
        self.app = app
        self.origins = frozenset(origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None or self.allows(origin, scope, headers):
            await self.app(scope, receive, send)
            return
        error = OriginNotAllowed(
            f"Requests from web pages at {shown(origin)!r} are not allowed. To let a browser "
            "app use the proxy, start it with --cors-origin <origin> (and an API key)."
        )
        await ErrorResponse(error)(scope, receive, send)

    def allows(self, origin: str, scope: Scope, headers: Headers) -> bool:
        origin = origin.strip().rstrip("/").lower()
        return (
            "*" in self.origins or origin in self.origins or origin == same_origin(scope, headers)
        )
