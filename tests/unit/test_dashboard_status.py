"""The dashboard's bounded history (handlers/timeseries.py, fed by handlers/metrics.py) and
the status JSON built from it (handlers/dashboard/status.py): pure, with a fake clock."""

from __future__ import annotations

from cli_bridge.protocol.events import RateLimitInfo, Result, TextDelta
from handlers.dashboard.login import LoginState, parse_auth_status
from handlers.dashboard.status import build_status
from handlers.metrics import Metrics
from handlers.state import CliInfo
from handlers.timeseries import MAX_LABELS, Series, column, summed

T0 = 1_800_000_000.0  # a whole hour


def test_buckets_sum_per_minute_and_the_window_is_exactly_the_last_hour():
    s = Series(60, 60)
    s.add(("a",), 1, T0)
    s.add(("a",), 2, T0 + 59)  # same minute
    s.add(("a",), 5, T0 + 60)
    window = s.window(T0 + 60)
    assert len(window) == 60
    assert window[-1].start == T0 + 60
    assert column(window, ("a",))[-2:] == [3, 5]
    assert s.totals(T0 + 60) == {("a",): 8}
    # 60 minutes later the first minute has left the window, the second not yet
    assert s.totals(T0 + 60 * 60) == {("a",): 5}
    assert s.totals(T0 + 60 * 61) == {}


def test_memory_stays_bounded_and_label_sets_are_capped():
    s = Series(60, 3)
    for minute in range(100):
        s.add(("x",), 1, T0 + minute * 60)
    assert len(s._buckets) == 3
    t = Series(60, 1)
    for i in range(MAX_LABELS + 10):
        t.add((f"m{i}", "k"), 1, T0)
    totals = t.totals(T0)
    assert len(totals) == MAX_LABELS + 1
    assert totals[("other", "other")] == 10


def test_peaks_gaps_and_a_clock_that_goes_back():
    s = Series(60, 5)
    s.peak(("m",), 0.5, T0)
    s.peak(("m",), 0.2, T0 + 1)
    s.add(("a", "x"), 1, T0 + 120)
    s.add(("a", "x"), 1, T0 + 30)  # late: counted in the newest bucket
    window = s.window(T0 + 120)
    assert [b.peaks.get(("m",)) for b in window][-3:] == [0.5, None, None]
    assert summed(window, 0, "a") == [0, 0, 0, 0, 2]


def health(limits=None, last_error=None):
    return {
        "queue": {
            "active": 1,
            "queued": 2,
            "processes": 3,
            "max_concurrency": 8,
            "max_queue": 128,
            "rejected": 0,
        },
        "pool": {
            "size": 2,
            "warm": 1,
            "warm_by_key": {},
            "hits": 0,
            "misses": 0,
            "spawned": 0,
            "recycled": 0,
            "rebalanced": 0,
            "sessions": {
                "idle_window": 60,
                "parked": 1,
                "hits": 0,
                "parked_total": 1,
                "expired": 0,
            },
        },
        "rate_limits": {
            "limits": limits or {},
            "upstream_errors": {"429": 1} if last_error else {},
            "last_upstream_error": last_error,
            "proxy_retries": 0,
            "cli_retries": 0,
            "last_cli_retry": None,
        },
        "tools": {
            "sessions": 0,
            "pending_calls": 0,
            "waiting": {
                "idle_window": 600,
                "parked": 0,
                "hits": 0,
                "parked_total": 0,
                "expired": 0,
            },
        },
    }


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_status_is_built_from_the_metrics_observations():
    clock = Clock(T0)
    m = Metrics("9.9.9", clock=clock)
    watch = m.watch_turn("claude-sonnet-5-5")  # no request context: the CLI model is the label
    watch(TextDelta(None, 0, "hi"))
    usage = {"input_tokens": 10, "output_tokens": 4, "cache_read_input_tokens": 100}
    watch(
        Result(
            subtype="success",
            is_error=False,
            text="hi",
            usage=usage,
            stop_reason="end_turn",
            terminal_reason=None,
            api_error_status=None,
            errors=[],
            session_id=None,
        )
    )
    m.observe_request("create_chat_completion", "POST", 200, "sonnet", 0.2)
    m.observe_request("get_dashboard_status", "GET", 200, None, 0.01)  # not traffic
    clock.now = T0 + 61
    m.observe_request("create_chat_completion", "POST", 404, None, 0.01, error="model_not_found")
    m.observe_request("-", "POST", 401, None, 0.01)  # no code noted: the status names it
    limits = {
        "five_hour": {
            "status": "allowed_warning",
            "resetsAt": T0 + 3600,
            "utilization": 0.9,
            "seen_at": "2027-01-15T08:00:00Z",
        }
    }
    status = build_status(
        history=m.history,
        now=clock.now,
        version="9.9.9",
        cli=CliInfo(True, "/bin/claude", "2.1.332"),
        login=LoginState("yes", "claude.ai", T0),
        health=health(limits),
        models=["opus", "sonnet"],
        keys=False,
    )
    assert status["status"] == "ok"
    assert status["uptime_seconds"] == 61
    assert status["requests"]["ok"][-2:] == [1, 0]
    assert status["requests"]["error"][-2:] == [0, 2]
    assert status["requests"]["total_1h"] == status["requests"]["total_24h"] == 3
    assert status["ttft"]["count_1h"] == 1
    assert status["ttft"]["avg"][-2] is not None and status["ttft"]["avg"][-1] is None
    model_row = status["tokens"]["by_model"][0]
    assert model_row == {
        "id": "claude-sonnet-5-5",
        "input": 10,
        "output": 4,
        "cache_read": 100,
        "cache_write": 0,
    }
    assert status["tokens"]["by_key"][0]["id"] is None
    assert status["errors"]["by_type_1h"] == [
        {"code": "http_401", "count": 1},
        {"code": "model_not_found", "count": 1},
    ]
    assert status["errors"]["recent"][0]["code"] == "http_401"
    assert status["rate_limits"]["events"] == [
        {
            "window": "five_hour",
            "status": "allowed_warning",
            "resets_at": T0 + 3600,
            "utilization": 0.9,
            "seen_at": "2027-01-15T08:00:00Z",
        }
    ]
    assert status["processes"] == {
        "active": 1,
        "queued": 2,
        "warm": 1,
        "parked": 1,
        "waiting_for_tools": 0,
        "processes": 3,
        "max_concurrency": 8,
        "max_queue": 128,
    }
    # the same observations fed the Prometheus counters
    text = m.render(None).decode()
    assert 'claude_proxy_errors_total{code="model_not_found"} 1.0' in text
    assert 'claude_proxy_tokens_total{kind="cache_read",model="claude-sonnet-5-5"} 100.0' in text


def test_rate_limit_events_through_the_engine_board_keep_their_reset_time():
    from cli_bridge.engine.ratelimits import RateLimitBoard

    board = RateLimitBoard()
    board.observe(
        RateLimitInfo({"status": "rejected", "resetsAt": 1790000000, "rateLimitType": "seven_day"})
    )
    h = health()
    h["rate_limits"] = board.snapshot()
    status = build_status(
        history=Metrics("1").history,
        now=T0,
        version="1",
        cli=CliInfo(False, None, None),
        login=LoginState("unknown", "no CLI"),
        health=h,
        models=[],
        keys=True,
    )
    assert status["status"] == "degraded"
    (event,) = status["rate_limits"]["events"]
    assert (event["window"], event["status"], event["resets_at"]) == (
        "seven_day",
        "rejected",
        1790000000,
    )


def test_login_state_is_read_like_doctor_reads_it():
    yes = parse_auth_status(0, '{"loggedIn": true, "authMethod": "claude.ai"}', "", T0)
    assert (yes.state, yes.detail) == ("yes", "claude.ai")
    assert parse_auth_status(0, '{"loggedIn": false}', "", T0).state == "no"
    paid = parse_auth_status(0, '{"loggedIn": true, "authMethod": "api_key"}', "", T0)
    assert paid.state == "yes" and "billed per token" in (paid.detail or "")
    stand_in = parse_auth_status(2, "", "usage: claude [-h]", T0)
    assert stand_in.state == "unknown" and "stand-in" in (stand_in.detail or "")
