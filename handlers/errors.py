"""Every non-2xx answer as OpenAI's `{"error": {message, type, param, code}}`, in one place."""

from __future__ import annotations

import json
import logging
from typing import Any

from connexion.exceptions import BadRequestProblem, ProblemException, Unauthorized
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from starlette.exceptions import HTTPException

from cli_bridge.errors import ProxyError

log = logging.getLogger("claude_max_api")


class ParamBadRequest(BadRequestProblem):
    """A 400 that remembers which request field was wrong."""

    def __init__(self, detail: str, param: str | None = None) -> None:
        super().__init__(detail=detail)
        self.param = param


def error_response(
    status: int,
    message: str,
    type_: str,
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> ConnexionResponse:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return ConnexionResponse(
        status_code=status,
        mimetype="application/json",
        content_type="application/json",
        headers=headers or {},
        body=json.dumps(body),
    )


def proxy_error_response(exc: ProxyError) -> ConnexionResponse:
    err = exc.envelope()["error"]
    return error_response(
        exc.status, err["message"], err["type"], err["param"], err["code"], exc.headers()
    )


def on_proxy_error(_request: ConnexionRequest, exc: ProxyError) -> ConnexionResponse:
    return proxy_error_response(exc)


def on_bad_request(_request: ConnexionRequest, exc: BadRequestProblem) -> ConnexionResponse:
    param = getattr(exc, "param", None)
    return error_response(400, str(exc.detail), "invalid_request_error", param)


def on_unauthorized(_request: ConnexionRequest, exc: Unauthorized) -> ConnexionResponse:
    return error_response(
        401,
        "Incorrect API key provided. Send it as `Authorization: Bearer <key>`.",
        "invalid_request_error",
        code="invalid_api_key",
        headers={"WWW-Authenticate": "Bearer"},
    )


def on_problem(_request: ConnexionRequest, exc: ProblemException) -> ConnexionResponse:
    status = exc.status or 500
    if status >= 500:
        log.error("request failed: %s", exc.detail)
        return error_response(
            status, "The server had an error processing your request.", "server_error"
        )
    return error_response(status, str(exc.detail or exc.title), "invalid_request_error")


def on_http_exception(request: ConnexionRequest, exc: HTTPException) -> ConnexionResponse:
    if exc.status_code == 404:
        message = f"Invalid URL ({request.method} {request.url.path})"
    elif exc.status_code == 405:
        message = f"Method {request.method} is not allowed for {request.url.path}"
    else:
        message = str(exc.detail)
    headers: dict[str, Any] = dict(exc.headers or {})
    type_ = "invalid_request_error" if exc.status_code < 500 else "server_error"
    return error_response(exc.status_code, message, type_, headers=headers)


def on_unhandled(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    log.error("unhandled error", exc_info=exc)
    return error_response(500, "The server had an error processing your request.", "server_error")
