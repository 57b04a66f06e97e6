"""What the upstream said about limits: kept from CLI events, shown in /health.

The CLI reports plan usage and reset times (`rate_limit_event`), its own retries
(`system/api_retry`, only if an operator re-enables CLI retries) and API errors. The board
keeps the latest of each so an operator sees why requests are refused without reading logs.
"""

from __future__ import annotations

import time
from typing import TypedDict

from ..errors import ProxyError
from ..protocol.events import ApiRetry, CliEvent, RateLimitInfo
from ..protocol.wire import JsonObject

MAX_KINDS = 16  # distinct rate-limit windows kept (five_hour, seven_day, ...)


class CliRetry(TypedDict):
    attempt: int
    error_status: int | None
    error: str | None
    retry_delay_ms: float | None
    at: str


class UpstreamFailure(TypedDict):
    status: int
    retry_after: float | None
    retried: bool
    at: str


class RateLimitSnapshot(TypedDict):
    """The `rate_limits` section of /health."""

    limits: dict[str, JsonObject]  # window -> the CLI's last report, plus `seen_at`
    upstream_errors: dict[str, int]  # upstream HTTP status -> count
    last_upstream_error: UpstreamFailure | None
    proxy_retries: int
    cli_retries: int
    last_cli_retry: CliRetry | None


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


class RateLimitBoard:
    def __init__(self) -> None:
        self._limits: dict[str, JsonObject] = {}
        self._last_retry: CliRetry | None = None
        self._last_error: UpstreamFailure | None = None
        self.cli_retries = 0
        self.proxy_retries = 0
        self.upstream_errors: dict[str, int] = {}

    def observe(self, event: CliEvent) -> None:
        """Keep what matters from one CLI event (cheap; called for every event)."""
        if isinstance(event, RateLimitInfo):
            info = event.info
            kind = info.get("rateLimitType") or info.get("type") or "default"
            kind = str(kind)[:64]
            if kind in self._limits or len(self._limits) < MAX_KINDS:
                self._limits[kind] = {**info, "seen_at": _iso(time.time())}
        elif isinstance(event, ApiRetry):
            self.cli_retries += 1
            self._last_retry = {
                "attempt": event.attempt,
                "error_status": event.error_status,
                "error": event.error,
                "retry_delay_ms": event.retry_delay_ms,
                "at": _iso(time.time()),
            }

    def record_error(self, error: ProxyError, retried: bool) -> None:
        """An upstream failure reported by the CLI, and whether the proxy retried it."""
        if error.upstream_status is None:
            return
        key = str(error.upstream_status)
        self.upstream_errors[key] = self.upstream_errors.get(key, 0) + 1
        self.proxy_retries += int(retried)
        self._last_error = {
            "status": error.upstream_status,
            "retry_after": error.retry_after,
            "retried": retried,
            "at": _iso(time.time()),
        }

    def snapshot(self) -> RateLimitSnapshot:
        return {
            "limits": dict(self._limits),
            "upstream_errors": dict(self.upstream_errors),
            "last_upstream_error": self._last_error,
            "proxy_retries": self.proxy_retries,
            "cli_retries": self.cli_retries,
            "last_cli_retry": self._last_retry,
        }
