"""Prometheus metrics (GET /metrics): one CollectorRegistry per app, never the global one.

HTTP counters come from the access middleware, CLI-turn figures from the bridge's observer
hook (`watch_turn`), and the process gauges are read from the bridge at scrape time. Every
observation that feeds a counter or histogram here also feeds `History` (the same call, the
same numbers), the bounded time series the status dashboard draws: no second bookkeeping.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypedDict

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from cli_bridge.engine.health import EngineGauges
from cli_bridge.protocol.events import (
    ApiRetry,
    CliEvent,
    InputJsonDelta,
    RateLimitInfo,
    Result,
    TextDelta,
    ToolCallsPending,
)
from cli_bridge.protocol.wire import Usage

from .middleware import access
from .timeseries import Series

log = logging.getLogger("claude_max_api.metrics")

PREFIX = "claude_proxy"
LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900)
TTFT_BUCKETS = (0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60)
RATE_LIMIT_STATUSES = frozenset({"allowed", "allowed_warning", "rejected"})
TOKEN_KINDS = {
    "input": "input_tokens",
    "output": "output_tokens",
    "cache_read": "cache_read_input_tokens",
    "cache_write": "cache_creation_input_tokens",
}


RECENT_ERRORS = 20


class RecentError(TypedDict):
    at: float  # seconds since the epoch
    code: str
    status: int
    route: str


@dataclass(slots=True)
class History:
    """The dashboard's view of the observations above, bounded: per minute for the last
    hour, per hour for the last 24 h, and the last few errors."""

    started: float = field(default_factory=time.time)
    requests_1m: Series = field(default_factory=lambda: Series(60, 60))  # (route, outcome)
    requests_1h: Series = field(default_factory=lambda: Series(3600, 24))  # (route, outcome)
    ttft_1m: Series = field(default_factory=lambda: Series(60, 60))  # ("sum"|"n", model)
    tokens_1h: Series = field(default_factory=lambda: Series(3600, 24))  # (model, key, kind)
    errors_1m: Series = field(default_factory=lambda: Series(60, 60))  # (code,)
    errors_1h: Series = field(default_factory=lambda: Series(3600, 24))  # (code,)
    recent_errors: deque[RecentError] = field(default_factory=lambda: deque(maxlen=RECENT_ERRORS))


def _count(value: Any) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
    return float(value) if ok else 0.0


class BridgeCollector(Collector):
    """Process gauges read from the engine when scraped (none before the first scrape)."""

    def __init__(self) -> None:
        self.gauges: EngineGauges | None = None

    def collect(self) -> Iterator[Metric]:
        gauges = self.gauges
        if gauges is None:
            return
        for name, value, text in (
            ("cli_processes_active", gauges["active"], "CLI processes running a request"),
            ("cli_requests_queued", gauges["queued"], "Requests waiting for a CLI process"),
            ("cli_pool_size", gauges["pool_size"], "Pre-started CLI processes in the pool"),
        ):
            yield GaugeMetricFamily(f"{PREFIX}_{name}", text, value=float(value))
        yield CounterMetricFamily(
            f"{PREFIX}_proxy_retries",
            "Turns the proxy retried itself",
            value=float(gauges["retries"]),
        )


class Metrics:
    def __init__(self, version: str, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.history = History(started=clock())
        r = self.registry = CollectorRegistry()
        self.requests = Counter(
            f"{PREFIX}_http_requests",
            "HTTP requests answered, by route, method, status and model",
            ["route", "method", "status", "model"],
            registry=r,
        )
        self.latency = Histogram(
            f"{PREFIX}_http_request_duration_seconds",
            "Time from request to the last response byte (whole stream for SSE)",
            ["route", "model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.ttft = Histogram(
            f"{PREFIX}_time_to_first_token_seconds",
            "Time from request to the first text token from the CLI",
            ["model"],
            buckets=TTFT_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            f"{PREFIX}_tokens", "Tokens reported by the CLI", ["model", "kind"], registry=r
        )
        self.upstream_retries = Counter(
            f"{PREFIX}_upstream_retries",
            "Upstream retries made by the CLI (api_retry events), by upstream status",
            ["status"],
            registry=r,
        )
        self.rate_limits = Counter(
            f"{PREFIX}_rate_limit_events",
            "Subscription rate-limit reports from the CLI by status; upstream_429 = refused turns",
            ["status"],
            registry=r,
        )
        self.turns = Counter(f"{PREFIX}_cli_turns", "CLI turns started", ["model"], registry=r)
        self.errors = Counter(
            f"{PREFIX}_errors",
            "Error answers (and errors ending a stream) by error code",
            ["code"],
            registry=r,
        )
        info = Gauge(f"{PREFIX}_build_info", "Proxy version", ["version"], registry=r)
        info.labels(version).set(1)
        self.bridge_gauges = BridgeCollector()
        r.register(self.bridge_gauges)

    def observe_request(
        self,
        route: str,
        method: str,
        status: int,
        model: str | None,
        seconds: float,
        error: str | None = None,
    ) -> None:
        """One answered request; `error` is the code of the error it answered with (also
        one that ended a stream after a 200)."""
        model = model or ""
        self.requests.labels(route, method, str(status), model).inc()
        self.latency.labels(route, model).observe(seconds)
        if error is None and status >= 400:
            error = f"http_{status}"
        now, h = self.clock(), self.history
        outcome = "error" if error is not None else "ok"
        h.requests_1m.add((route, outcome), 1, now)
        h.requests_1h.add((route, outcome), 1, now)
        if error is not None:
            code = error[:64]
            self.errors.labels(code).inc()
            h.errors_1m.add((code,), 1, now)
            h.errors_1h.add((code,), 1, now)
            h.recent_errors.append({"at": now, "code": code, "status": status, "route": route})

    def watch_turn(self, cli_model: str) -> Callable[[CliEvent], None]:
        """The bridge calls this when a turn starts and the result with every CLI event."""
        info = access.current()
        started = info.started if info is not None else time.monotonic()
        model = (info.model if info is not None else None) or cli_model
        key_id = (info.key_id if info is not None else None) or ""
        self.turns.labels(model).inc()
        first_token = True

        def on_event(event: CliEvent) -> None:
            nonlocal first_token
            try:
                if isinstance(event, TextDelta | InputJsonDelta) and first_token:
                    first_token = False
                    self._observe_ttft(model, time.monotonic() - started)
                elif isinstance(event, ApiRetry):
                    self.upstream_retries.labels(str(event.error_status or "none")).inc()
                elif isinstance(event, RateLimitInfo):
                    status = event.info.get("status")
                    self.rate_limits.labels(
                        status if status in RATE_LIMIT_STATUSES else "other"
                    ).inc()
                elif isinstance(event, Result):
                    self._count_result(model, key_id, event)
                elif isinstance(event, ToolCallsPending):  # an answer that ends at tool calls
                    self._count_usage(model, key_id, event.usage)
            except Exception:  # metrics must never break a turn
                log.exception("metrics: could not record a CLI event")

        return on_event

    def _observe_ttft(self, model: str, seconds: float) -> None:
        self.ttft.labels(model).observe(seconds)
        now, series = self.clock(), self.history.ttft_1m
        series.add(("sum", model), seconds, now)
        series.add(("n", model), 1, now)
        series.peak((model,), seconds, now)

    def _count_result(self, model: str, key_id: str, result: Result) -> None:
        if result.api_error_status == 429:
            self.rate_limits.labels("upstream_429").inc()
        self._count_usage(model, key_id, result.usage)

    def _count_usage(self, model: str, key_id: str, usage: Usage) -> None:
        """Tokens by model (Prometheus; no key label there) and by model and key (history)."""
        now = self.clock()
        for kind, key in TOKEN_KINDS.items():
            amount = _count(usage.get(key))
            if amount:
                self.tokens.labels(model, kind).inc(amount)
                self.history.tokens_1h.add((model, key_id, kind), amount, now)

    def render(self, gauges: EngineGauges | None) -> bytes:
        self.bridge_gauges.gauges = gauges
        return generate_latest(self.registry)
