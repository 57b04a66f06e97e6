"""ASGI guards in front of connexion, each refusing with the OpenAI error envelope.

Order (outermost first): access log + request id, Host allow-list (DNS rebinding), Origin
allow-list (cross-site browser requests), CORS (only when origins are configured), API key,
body size and type. A refused request never reaches routing, validation or the CLI.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from connexion import AsyncApp
from connexion.middleware import MiddlewarePosition
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cli_bridge.errors import ProxyError

from .access import AccessMiddleware
from .responses import json_error
from .security import ApiKeyGuard, allowed_hosts

if TYPE_CHECKING:
    from .metrics import Metrics
    from .settings import Settings

log = logging.getLogger("claude_max_api")

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_HOST_OK = "claude_max_api.host_ok"


class HostNotAllowed(ProxyError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_host"


class OriginNotAllowed(ProxyError):
    status = 403
    type = "invalid_request_error"
    code = "origin_not_allowed"


class BodyTooLarge(ProxyError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class UnsupportedMediaType(ProxyError):
    status = 415
    type = "invalid_request_error"
    code = "unsupported_media_type"


def _shown(value: str) -> str:
    """A header value safe to put in a message: short, printable."""
    value = "".join(ch if ch.isprintable() else "?" for ch in value)
    return value[:100]


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
            host = _shown(Headers(scope=scope).get("host", ""))
            error = HostNotAllowed(
                f"Host header {host!r} is not allowed. If this is how clients reach the proxy, "
                "start it with --allowed-host <name> (CLAUDE_PROXY_ALLOWED_HOSTS)."
            )
            await json_error(error)(scope, receive, send)


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
            f"Requests from web pages at {_shown(origin)!r} are not allowed. To let a browser "
            "app use the proxy, start it with --cors-origin <origin> (and an API key)."
        )
        await json_error(error)(scope, receive, send)

    def allows(self, origin: str, scope: Scope, headers: Headers) -> bool:
        origin = origin.strip().rstrip("/").lower()
        return (
            "*" in self.origins or origin in self.origins or origin == same_origin(scope, headers)
        )


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
            await json_error(self.too_large())(scope, receive, send)
            return
        has_body = (length is not None and length != "0") or "transfer-encoding" in headers
        if scope["method"] not in BODY_METHODS or not has_body:
            await self.app(scope, receive, send)
            return
        if not is_json(headers.get("content-type")):
            shown = _shown(headers.get("content-type", "none"))
            error = UnsupportedMediaType(
                f"Invalid Content-type ({shown}), expected ['application/json']"
            )
            await json_error(error)(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left before sending its body: nobody to answer
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                await json_error(self.too_large())(scope, receive, send)
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


def install(app: AsyncApp, settings: Settings, metrics: Metrics) -> None:
    """Put the guards in front of connexion's error handling, in the order above."""
    at = MiddlewarePosition.BEFORE_EXCEPTION
    app.add_middleware(AccessMiddleware, position=at, metrics=metrics)
    app.add_middleware(HostGuard, position=at, allowed_hosts=allowed_hosts(settings))
    app.add_middleware(OriginGuard, position=at, origins=settings.cors_origins)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            position=at,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["*"],
            expose_headers=["X-Request-Id", "Retry-After"],
        )
    app.add_middleware(ApiKeyGuard, position=at, keys=settings.api_keys)
    app.add_middleware(
        BodyGuard, position=at, max_bytes=settings.max_body_bytes, debug=settings.debug
    )
