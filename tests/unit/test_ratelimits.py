"""cli_bridge.engine.ratelimits: rate-limit and retry reports kept for /health."""

from __future__ import annotations

from cli_bridge.engine.ratelimits import MAX_KINDS, RateLimitBoard
from cli_bridge.errors import RateLimited, Timeout
from cli_bridge.protocol.environment import child_env
from cli_bridge.protocol.events import event_from_line

EVENT = (
    '{"type":"rate_limit_event","rate_limit_info":{"status":"allowed_warning",'
    '"resetsAt":1790000000,"rateLimitType":"five_hour","utilization":0.91},"session_id":"s"}'
)
RETRY = (
    '{"type":"system","subtype":"api_retry","attempt":2,"max_retries":10,'
    '"retry_delay_ms":1200,"error_status":529,"error":"overloaded"}'
)


def test_rate_limit_events_are_kept_by_window():
    board = RateLimitBoard()
    board.observe(event_from_line(EVENT))
    board.observe(event_from_line(EVENT.replace("0.91", "0.95")))
    limits = board.snapshot()["limits"]
    assert list(limits) == ["five_hour"]
    assert limits["five_hour"]["utilization"] == 0.95
    assert limits["five_hour"]["resetsAt"] == 1790000000
    for i in range(MAX_KINDS + 5):
        board.observe(event_from_line(EVENT.replace("five_hour", f"w{i}")))
    assert len(board.snapshot()["limits"]) == MAX_KINDS


def test_cli_retries_and_upstream_errors_are_counted():
    board = RateLimitBoard()
    board.observe(event_from_line(RETRY))
    limited = RateLimited("slow down", retry_after=3)
    limited.upstream_status = 429
    board.record_error(limited, retried=False)
    board.record_error(Timeout("not upstream"), retried=False)  # no upstream status: ignored
    snap = board.snapshot()
    assert snap["cli_retries"] == 1
    assert snap["last_cli_retry"]["error_status"] == 529
    assert snap["upstream_errors"] == {"429": 1}
    assert snap["last_upstream_error"]["retry_after"] == 3
    assert snap["proxy_retries"] == 0


def test_cli_runs_without_its_own_retries_unless_the_operator_says_so():
    assert child_env({}, {})["CLAUDE_CODE_MAX_RETRIES"] == "0"
    assert child_env({"CLAUDE_CODE_MAX_RETRIES": "3"}, {})["CLAUDE_CODE_MAX_RETRIES"] == "3"
    assert child_env({}, {"CLAUDE_CODE_MAX_RETRIES": "5"})["CLAUDE_CODE_MAX_RETRIES"] == "5"
