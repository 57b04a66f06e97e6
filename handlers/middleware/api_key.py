"""API keys: 401 before routing for every protected path without a configured key."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import ErrorResponse, InvalidApiKey
from ..security import needs_key, presented_keys, valid_key_id
from . import access


class ApiKeyGuard:
    """401 `invalid_api_key` for every protected path without a configured key."""

    def __init__(self, app: ASGIApp, keys: Sequence[str]) -> None:
        self.app = app
        self.keys = tuple(keys)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.keys:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        key_id = valid_key_id(self.keys, headers)
        if key_id is not None:
            access.note_key(key_id)
            await self.app(scope, receive, send)
            return
        if not needs_key(scope["path"]):
            await self.app(scope, receive, send)
            return
        message = (
            "Incorrect API key provided."
            if presented_keys(headers)
            else "You didn't provide an API key. Send it as `Authorization: Bearer <key>`."
        )
        await ErrorResponse(InvalidApiKey(message))(scope, receive, send)
