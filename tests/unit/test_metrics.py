"""The metrics object on its own: turn observation, and the engine gauges it is given."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from cli_bridge.engine.health import EngineGauges
from cli_bridge.protocol.events import ApiRetry, RateLimitInfo, Result, TextDelta
from handlers.metrics import Metrics


def samples(
    metrics: Metrics, gauges: EngineGauges | None = None
) -> dict[tuple[str, frozenset], float]:
    text = metrics.render(gauges).decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def result(**overrides) -> Result:
    base = dict(
        subtype="success", is_error=False, text="", usage={}, stop_reason=None,
        terminal_reason=None, api_error_status=None, errors=[], session_id=None,
    )  # fmt: skip
    return Result(**{**base, **overrides})


def test_turn_events_are_counted():
    metrics = Metrics("1.2.3")
    watch = metrics.watch_turn("claude-opus-5-5")
    watch(ApiRetry(1, 10, 500.0, 529, "overloaded"))
    watch(RateLimitInfo({"status": "allowed_warning"}))
    watch(RateLimitInfo({"status": "something-new"}))
    watch(TextDelta(None, 0, "a"))
    watch(TextDelta(None, 0, "b"))
    watch(result(usage={"input_tokens": 3, "output_tokens": 4, "cache_read_input_tokens": True}))
    watch(result(is_error=True, api_error_status=429))
    m = samples(metrics)

    def v(name: str, **labels: str) -> float:
        return m.get((name, frozenset(labels.items())), 0.0)

    model = "claude-opus-5-5"  # no request context: the CLI model labels the turn
    assert v("claude_proxy_upstream_retries_total", status="529") == 1
    assert v("claude_proxy_rate_limit_events_total", status="allowed_warning") == 1
    assert v("claude_proxy_rate_limit_events_total", status="other") == 1
    assert v("claude_proxy_rate_limit_events_total", status="upstream_429") == 1
    assert v("claude_proxy_time_to_first_token_seconds_count", model=model) == 1
    assert v("claude_proxy_tokens_total", model=model, kind="input") == 3
    assert v("claude_proxy_tokens_total", model=model, kind="output") == 4
    assert (
        "claude_proxy_tokens_total",
        frozenset({("model", model), ("kind", "cache_read")}),
    ) not in m
    assert v("claude_proxy_cli_turns_total", model=model) == 1
    assert v("claude_proxy_build_info", version="1.2.3") == 1


def test_gauges_read_the_engine_snapshot():
    metrics = Metrics("x")
    m = samples(metrics)
    assert not any(name == "claude_proxy_cli_processes_active" for name, _ in m)
    m = samples(metrics, {"active": 2, "queued": 0, "pool_size": 0, "retries": 0})
    assert m[("claude_proxy_cli_processes_active", frozenset())] == 2
    assert m[("claude_proxy_cli_requests_queued", frozenset())] == 0
    later: EngineGauges = {"active": 1, "queued": 3, "pool_size": 2, "retries": 5}
    m = samples(metrics, later)
    assert m[("claude_proxy_cli_requests_queued", frozenset())] == 3
    assert m[("claude_proxy_cli_pool_size", frozenset())] == 2
    assert m[("claude_proxy_proxy_retries_total", frozenset())] == 5


def test_two_apps_do_not_share_a_registry():
    a, b = Metrics("x"), Metrics("x")
    a.observe_request("list_models", "GET", 200, None, 0.01)
    key = ("claude_proxy_http_requests_total", frozenset(
        {("route", "list_models"), ("method", "GET"), ("status", "200"), ("model", "")}
    ))  # fmt: skip
    assert samples(a)[key] == 1
    assert key not in samples(b)
