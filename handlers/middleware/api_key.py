"""API keys: 401 before routing for every protected path without a configured key."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import ErrorResponse, InvalidApiKey
from ..security import has_valid_key, needs_key, presented_keys


class ApiKeyGuard:
    """401 `invalid_api_key` for every protected path without a configured key."""

    def __init__(self, app: ASGIApp, keys: Sequence[str]) -> None:
        self.app = app
        self.keys = tuple(keys)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.keys or not needs_key(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if has_valid_key(self.keys, headers):
            await self.app(scope, receive, send)
            return
        message = (
            "Incorrect API key provided."
            if presented_keys(headers)
            else "You didn't provide an API key. Send it as `Authorization: Bearer <key>`."
        )
        await ErrorResponse(InvalidApiKey(message))(scope, receive, send)
