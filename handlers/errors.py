"""Errors as the client's API surface writes them: one renderer per surface, chosen by path.

Everything that fails is a typed `ProxyError` (status, type, code, param, headers) by the time
it is answered: connexion's own problems are converted here first. The surface is chosen by
the request path, so a request refused before routing (bad key, bad Host, body too large)
still gets the envelope its client parses.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Literal, TypeAlias, TypedDict

from connexion.exceptions import BadRequestProblem, ProblemException, Unauthorized
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from cli_bridge.errors import InvalidRequest, ProxyError

log = logging.getLogger("claude_max_api")

Surface: TypeAlias = Literal["openai", "anthropic"]
# Paths whose clients speak Anthropic's API; every other path answers in OpenAI's envelope.
ANTHROPIC_PREFIXES = ("/v1/messages",)


class OpenAIErrorDetail(TypedDict):
    message: str
    type: str
    param: str | None
    code: str | None


class OpenAIErrorBody(TypedDict):
    error: OpenAIErrorDetail


class AnthropicErrorDetail(TypedDict):
    type: str
    message: str


class AnthropicErrorBody(TypedDict):
    type: Literal["error"]
    error: AnthropicErrorDetail


ErrorBody: TypeAlias = OpenAIErrorBody | AnthropicErrorBody


class ParamBadRequest(BadRequestProblem):  # type: ignore[misc]  # connexion ships no types
    """A 400 that remembers which request field was wrong."""

    def __init__(self, detail: str, param: str | None = None) -> None:
        super().__init__(detail=detail)
        self.param = param


class InvalidApiKey(ProxyError):
    status = 401
    type = "invalid_request_error"
    code = "invalid_api_key"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class HostNotAllowed(ProxyError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_host"


class OriginNotAllowed(ProxyError):
    status = 403
    type = "invalid_request_error"
    code = "origin_not_allowed"


class DashboardNotAllowed(ProxyError):
    status = 403
    type = "invalid_request_error"
    code = "dashboard_not_allowed"


class BodyTooLarge(ProxyError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class UnsupportedMediaType(ProxyError):
    status = 415
    type = "invalid_request_error"
    code = "unsupported_media_type"


def surface_for_path(path: str) -> Surface:
    """`/v1/messages` and what is under it (`/v1/messages/count_tokens`) speak Anthropic's."""
    for prefix in ANTHROPIC_PREFIXES:
        if path == prefix or path.startswith(prefix + "/"):
            return "anthropic"
    return "openai"


def openai_body(exc: ProxyError) -> OpenAIErrorBody:
    """`{"error": {message, type, param, code}}`."""
    return {
        "error": {"message": exc.message, "type": exc.type, "param": exc.param, "code": exc.code}
    }


# Anthropic's error types by HTTP status (https://docs.anthropic.com/en/api/errors).
ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def anthropic_type(exc: ProxyError) -> str:
    if exc.code == "upstream_overloaded":
        return "overloaded_error"
    if exc.status in ANTHROPIC_TYPES:
        return ANTHROPIC_TYPES[exc.status]
    return "api_error" if exc.status >= 500 else "invalid_request_error"


def status_for(exc: ProxyError, path: str) -> int:
    """The HTTP status on the path's surface: Anthropic answers an overloaded upstream with
    its own 529 (which its clients retry), OpenAI's surface with 503."""
    if surface_for_path(path) == "anthropic" and anthropic_type(exc) == "overloaded_error":
        return 529
    return exc.status


def anthropic_body(exc: ProxyError) -> AnthropicErrorBody:
    """`{"type": "error", "error": {type, message}}`. The envelope has no `param`, so the
    message begins with it (`messages.0.content.1: …`), as Anthropic words its own."""
    message = exc.message
    if exc.param and not message.startswith(exc.param):
        message = f"{exc.param}: {message}"
    return {"type": "error", "error": {"type": anthropic_type(exc), "message": message}}


RENDERERS: dict[Surface, Callable[[ProxyError], ErrorBody]] = {
    "openai": openai_body,
    "anthropic": anthropic_body,
}


def error_body(exc: ProxyError, path: str) -> ErrorBody:
    return RENDERERS[surface_for_path(path)](exc)


def note(exc: ProxyError) -> None:
    """Tell the access log / metrics which error this request answered with."""
    from .middleware.access import note_error  # late: the middleware package imports this

    note_error(str(exc.code or exc.type))


class ErrorResponse:
    """An ASGI app answering `exc` in the envelope of the request's surface (for guards and
    responses that run outside connexion's error handling)."""

    def __init__(self, exc: ProxyError) -> None:
        self.exc = exc

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        note(self.exc)
        status = status_for(self.exc, path)
        response = JSONResponse(
            error_body(self.exc, path), status_code=status, headers=self.exc.headers()
        )
        await response(scope, receive, send)


def proxy_error_response(exc: ProxyError, path: str) -> ConnexionResponse:
    note(exc)
    return ConnexionResponse(
        status_code=status_for(exc, path),
        mimetype="application/json",
        content_type="application/json",
        headers=exc.headers(),
        body=json.dumps(error_body(exc, path)),
    )


# connexion error handlers: each turns its exception into a ProxyError, rendered above.


def on_proxy_error(request: ConnexionRequest, exc: ProxyError) -> ConnexionResponse:
    return proxy_error_response(exc, request.url.path)


def on_bad_request(request: ConnexionRequest, exc: BadRequestProblem) -> ConnexionResponse:
    param = getattr(exc, "param", None)
    return proxy_error_response(InvalidRequest(str(exc.detail), param=param), request.url.path)


def on_unauthorized(request: ConnexionRequest, _exc: Unauthorized) -> ConnexionResponse:
    error = InvalidApiKey("Incorrect API key provided. Send it as `Authorization: Bearer <key>`.")
    return proxy_error_response(error, request.url.path)


def _server_error(status: int = 500) -> ProxyError:
    return ProxyError("The server had an error processing your request.", status=status)


def on_problem(request: ConnexionRequest, exc: ProblemException) -> ConnexionResponse:
    status = exc.status or 500
    if status >= 500:
        log.error("request failed: %s", exc.detail)
        return proxy_error_response(_server_error(status), request.url.path)
    error = ProxyError(str(exc.detail or exc.title), status=status, type="invalid_request_error")
    return proxy_error_response(error, request.url.path)


class _HttpError(ProxyError):
    """A routing error (404, 405, ...) with the headers starlette gave it (e.g. Allow)."""

    def __init__(self, message: str, status: int, headers: dict[str, str]) -> None:
        kind = "invalid_request_error" if status < 500 else "server_error"
        super().__init__(message, status=status, type=kind)
        self._headers = headers

    def headers(self) -> dict[str, str]:
        return self._headers


def on_http_exception(request: ConnexionRequest, exc: HTTPException) -> ConnexionResponse:
    if exc.status_code == 404:
        message = f"Invalid URL ({request.method} {request.url.path})"
    elif exc.status_code == 405:
        message = f"Method {request.method} is not allowed for {request.url.path}"
    else:
        message = str(exc.detail)
    error = _HttpError(message, exc.status_code, dict(exc.headers or {}))
    return proxy_error_response(error, request.url.path)


def on_unhandled(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    log.error("unhandled error", exc_info=exc)
    return proxy_error_response(_server_error(), request.url.path)
