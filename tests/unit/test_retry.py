"""cli_bridge.engine.retry: which upstream failures the proxy retries, and when."""

from __future__ import annotations

import pytest

from cli_bridge.engine.retry import RetryPolicy, retry_delay
from cli_bridge.errors import (
    AuthenticationFailed,
    InvalidRequest,
    Overloaded,
    RateLimited,
    UpstreamUnavailable,
)

MID = lambda: 0.5  # noqa: E731  (no jitter)


def err(cls, status, retry_after=None):
    e = cls("boom", retry_after=retry_after)
    e.upstream_status = status
    return e


def test_backoff_doubles_and_is_capped():
    p = RetryPolicy(backoff=1.0, max_backoff=5.0)
    assert [p.backoff_delay(i, MID) for i in range(4)] == [1.0, 2.0, 4.0, 5.0]


def test_jitter_stays_within_bounds():
    p = RetryPolicy(backoff=1.0, jitter=0.2)
    assert p.backoff_delay(0, lambda: 0.0) == pytest.approx(0.8)
    assert p.backoff_delay(0, lambda: 1.0) == pytest.approx(1.2)


@pytest.mark.parametrize("status", [500, 502, 503, 529])
def test_transient_5xx_retried_up_to_the_limit(status):
    p = RetryPolicy(upstream_retries=2)
    e = err(Overloaded if status in (503, 529) else UpstreamUnavailable, status)
    assert retry_delay(p, e, 0, streamed=False, remaining=60, rand=MID) == 1.0
    assert retry_delay(p, e, 1, streamed=False, remaining=60, rand=MID) == 2.0
    assert retry_delay(p, e, 2, streamed=False, remaining=60, rand=MID) is None


def test_429_not_retried_by_default():
    e = err(RateLimited, 429, retry_after=1.0)
    assert retry_delay(RetryPolicy(), e, 0, streamed=False, remaining=60) is None


def test_429_retry_honours_the_upstream_hint():
    p = RetryPolicy(rate_limit_retries=1)
    assert retry_delay(p, err(RateLimited, 429, 7.0), 0, streamed=False, remaining=60) == 7.0
    assert retry_delay(p, err(RateLimited, 429, 7.0), 1, streamed=False, remaining=60) is None
    # A hint longer than the time left: report the 429 now rather than time out later.
    assert retry_delay(p, err(RateLimited, 429, 70.0), 0, streamed=False, remaining=60) is None


@pytest.mark.parametrize(
    "error",
    [
        err(AuthenticationFailed, 401),
        err(InvalidRequest, 400),  # the CLI already retried a 400 itself
        err(UpstreamUnavailable, None),  # not an upstream status at all
    ],
)
def test_never_retried(error):
    p = RetryPolicy(upstream_retries=5, rate_limit_retries=5)
    assert retry_delay(p, error, 0, streamed=False, remaining=60) is None


def test_nothing_is_retried_once_content_was_streamed():
    e = err(Overloaded, 529)
    assert retry_delay(RetryPolicy(), e, 0, streamed=True, remaining=60) is None


def test_no_retry_without_time_for_it():
    e = err(Overloaded, 529)
    assert retry_delay(RetryPolicy(), e, 0, streamed=False, remaining=2.5, rand=MID) is None
    assert retry_delay(RetryPolicy(), e, 0, streamed=False, remaining=3.5, rand=MID) == 1.0
