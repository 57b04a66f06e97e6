"""Body size cap (413) and JSON-only bodies (415), before connexion parses anything."""

from __future__ import annotations

import logging

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import BodyTooLarge, ErrorResponse, UnsupportedMediaType
from ._text import shown

log = logging.getLogger("claude_max_api")

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def is_json(content_type: str | None) -> bool:
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    return mime == "application/json" or (
        mime.startswith("application/") and mime.endswith("+json")
    )


class BodyGuard:
    """Caps the body (413) before connexion parses it, chunked bodies included, and refuses
    a body that is not JSON (415) — a missing Content-Type too: connexion would guess JSON,
    and that is exactly what a cross-site `fetch(url, {body: blob})` sends."""

    def __init__(self, app: ASGIApp, max_bytes: int, debug: bool = False) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.debug = debug

    def too_large(self) -> BodyTooLarge:
        return BodyTooLarge(f"Request body too large: the limit is {self.max_bytes} bytes.")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await ErrorResponse(self.too_large())(scope, receive, send)
            return
        has_body = (length is not None and length != "0") or "transfer-encoding" in headers
        if scope["method"] not in BODY_METHODS or not has_body:
            await self.app(scope, receive, send)
            return
        if not is_json(headers.get("content-type")):
            given = shown(headers.get("content-type", "none"))
            error = UnsupportedMediaType(
                f"Invalid Content-type ({given}), expected ['application/json']"
            )
            await ErrorResponse(error)(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left before sending its body: nobody to answer
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                await ErrorResponse(self.too_large())(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        if self.debug:
            log.info(
                "[debug] request body (%d bytes): %.4000s",
                len(body),
                body.decode("utf-8", "replace"),
            )
        await self.app(scope, replay(bytes(body), receive), send)


def replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands over the buffered body once, then listens to the client."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
