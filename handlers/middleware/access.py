"""Per-request bookkeeping: a request id on every response and log line, one access-log line
per request, and the HTTP metrics. Headers and bodies are never logged here."""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from ..metrics import Metrics

log = logging.getLogger("claude_max_api.access")

REQUEST_ID_HEADER = "X-Request-Id"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@dataclass(slots=True)
class RequestInfo:
    id: str
    method: str
    path: str
    started: float = field(default_factory=time.monotonic)
    model: str | None = None  # catalogue id, set by the request path (handlers/turns.py)
    key_id: str | None = None  # id of the API key used (security.key_id), set by ApiKeyGuard
    error: str | None = None  # code of the error answered (or ending the stream), see errors.py


_current: contextvars.ContextVar[RequestInfo | None] = contextvars.ContextVar(
    "claude_max_api_request", default=None
)


def current() -> RequestInfo | None:
    """The request being served (also inside the CLI turn's task, which copies the context)."""
    return _current.get()


def note_model(model_id: str) -> None:
    """Label this request's metrics with a catalogue model id (never a raw client string)."""
    info = _current.get()
    if info is not None:
        info.model = model_id


def note_key(key_id: str) -> None:
    """Which configured API key this request used (its id, never the key)."""
    info = _current.get()
    if info is not None:
        info.key_id = key_id


def note_error(code: str) -> None:
    """The error this request answered with, for the error metrics (first one wins)."""
    info = _current.get()
    if info is not None and info.error is None:
        info.error = code


def request_id_from(value: str | None) -> str:
    """The client's X-Request-Id when it is sane, else a fresh one."""
    if value is not None and _SANE_ID.match(value):
        return value
    return f"req_{uuid.uuid4().hex}"


def route_of(scope: Scope) -> str:
    """The operation connexion routed to; "-" when a guard answered before routing."""
    routing = scope.get("extensions", {}).get("connexion_routing", {})
    operation = routing.get("operation_id")
    if operation:
        return re.sub(r"(?<!^)(?=[A-Z])", "_", str(operation)).lower()
    if scope["path"] in ("/openapi.json", "/openapi.yaml") or scope["path"].startswith("/ui"):
        return "swagger_ui"
    if scope["path"] == "/dashboard" or scope["path"].startswith("/dashboard/"):
        return "dashboard"  # refused before routing (no key, not loopback): not traffic
    return "-"


class AccessMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        info = RequestInfo(
            request_id_from(headers.get(REQUEST_ID_HEADER)), scope["method"], scope["path"]
        )
        token = _current.set(info)
        # connexion's router writes the matched operation into this (shared) dict.
        scope.setdefault("extensions", {})
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = info.id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.monotonic() - info.started
            route = route_of(scope)
            self.metrics.observe_request(
                route, info.method, status, info.model, elapsed, error=info.error
            )
            client = scope.get("client")
            log.info(
                '%s "%s %s" %d %.0fms',
                f"{client[0]}:{client[1]}" if client else "-",
                info.method,
                info.path,
                status,
                elapsed * 1000,
                extra={
                    "request_id": info.id,
                    "method": info.method,
                    "path": info.path,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 1),
                    "model": info.model,
                },
            )
            _current.reset(token)
