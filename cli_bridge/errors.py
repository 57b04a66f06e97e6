"""One error hierarchy for everything the proxy can refuse or fail at.

Each error knows its HTTP status, type, code, param and headers; the HTTP layer renders it in
the envelope of the request's API surface (handlers/errors.py), never guessing from names.
"""

from __future__ import annotations

MAX_RETRY_AFTER = 3600.0  # seconds


class ProxyError(Exception):
    """Base: an error that becomes an error response of whichever surface was asked."""

    status: int = 500
    type: str = "server_error"
    code: str | None = None
    # The Anthropic API status behind this error, when the upstream caused it (retry policy).
    upstream_status: int | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status: int | None = None,
        type: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        if type is not None:
            self.type = type
        # A hint parsed from upstream text may be absurd (`inf`): keep it a sane header value.
        if retry_after is not None and not 0 <= retry_after <= MAX_RETRY_AFTER:
            retry_after = MAX_RETRY_AFTER if retry_after > MAX_RETRY_AFTER else None
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        """Extra response headers (Retry-After for rate limits and overload)."""
        if self.retry_after is None:
            return {}
        return {"Retry-After": str(max(1, round(self.retry_after)))}


class InvalidRequest(ProxyError):
    status = 400
    type = "invalid_request_error"


class ModelNotFound(ProxyError):
    status = 404
    type = "invalid_request_error"
    code = "model_not_found"


class AuthenticationFailed(ProxyError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class RateLimited(ProxyError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"


class CliNotFound(ProxyError):
    status = 503
    type = "server_error"
    code = "cli_not_found"


class Overloaded(ProxyError):
    status = 503
    type = "server_error"
    code = "upstream_overloaded"


class CliFailed(ProxyError):
    """The CLI exited badly or printed nothing usable."""

    status = 502
    type = "server_error"
    code = "cli_failed"


class UpstreamUnavailable(ProxyError):
    """The upstream kept failing with 5xx after the proxy's retries."""

    status = 503
    type = "server_error"
    code = "upstream_error"


class UpstreamError(ProxyError):
    status = 502
    type = "server_error"
    code = "upstream_error"


class Timeout(ProxyError):
    status = 504
    type = "server_error"
    code = "timeout"
