"""A `result` event that reports failure -> the typed proxy error it stands for.

The CLI reports upstream failures as `subtype: "success"` with `is_error: true`, so the status
comes from `api_error_status`, never from the subtype. Surface-neutral: each surface renders
the error in its own envelope. Pure: no I/O.
"""

from __future__ import annotations

import re

from ..errors import (
    AuthenticationFailed,
    CliFailed,
    InvalidRequest,
    Overloaded,
    ProxyError,
    RateLimited,
    Timeout,
    UpstreamError,
    UpstreamUnavailable,
)
from .events import Result

_RETRY_HINT = re.compile(r"(?:retry|try again)[^0-9]{0,20}(\d+(?:\.\d+)?)\s*s", re.IGNORECASE)


def error_from_result(result: Result, *, retry_after: float | None = None) -> ProxyError | None:
    """A failed `result` event -> the matching proxy error; None for a successful turn.

    The CLI reports upstream failures as `subtype: "success"` with `is_error: true`, so the
    status comes from `api_error_status`, never from the subtype.
    """
    if not result.is_error:
        return None
    message = (
        result.text or "; ".join(result.errors) or f"Claude CLI turn failed ({result.subtype})"
    )
    status = result.api_error_status
    if status is None and result.terminal_reason == "api_error" and "Not logged in" in message:
        status = 401
    error = _error_for_status(status, result, message, retry_after)
    error.upstream_status = status
    return error


def _error_for_status(
    status: int | None, result: Result, message: str, retry_after: float | None
) -> ProxyError:
    if status == 401 or status == 403:
        return AuthenticationFailed(
            f"The Claude CLI could not authenticate upstream: {message}", code="upstream_auth"
        )
    if status == 429:
        if retry_after is None:
            hint = _RETRY_HINT.search(message)
            retry_after = float(hint.group(1)) if hint else 1.0
        return RateLimited(message, retry_after=retry_after)
    if status == 400 or status == 413:
        return InvalidRequest(message, code="upstream_invalid_request")
    if status == 529 or status == 503:
        return Overloaded(message, retry_after=retry_after or 1.0)
    if status is not None and status >= 500:
        return UpstreamUnavailable(message, retry_after=retry_after or 1.0)
    if status is not None:
        return UpstreamError(message)
    if result.terminal_reason == "api_error":  # no HTTP status: connection failure or stall
        if "timed out" in message.lower() or "timeout" in message.lower():
            return Timeout(message, code="upstream_timeout")
        return UpstreamError(message)
    if result.subtype == "error_max_turns":
        return CliFailed(message, code="max_turns")
    return CliFailed(message)
