"""The proxy's upstream retry policy (the CLI runs with CLAUDE_CODE_MAX_RETRIES=0).

Left alone, the CLI retries a failing upstream for about three minutes; the client learns
nothing until then. Instead the CLI reports each failure at once, and this policy decides:
transient 5xx/529 are retried a few times with exponential back-off, 429 not at all by
default, and never once the client has been sent any content. Pure: tested without processes.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import ProxyError


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    upstream_retries: int = 2  # transient 5xx and 529 (overloaded)
    rate_limit_retries: int = 0  # 429: the client is usually better placed to wait
    backoff: float = 1.0  # first delay; doubles per attempt
    max_backoff: float = 16.0
    jitter: float = 0.2  # +-20 %, so retries of a burst do not land together

    def backoff_delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Delay before retry number `attempt + 1` (attempt counts from 0)."""
        base = min(self.max_backoff, self.backoff * 2.0**attempt)
        return max(0.0, base * (1 + self.jitter * (2 * rand() - 1)))

    def allowed(self, upstream_status: int | None) -> int:
        if upstream_status == 429:
            return self.rate_limit_retries
        if upstream_status is not None and upstream_status >= 500:
            return self.upstream_retries
        return 0


def retry_delay(
    policy: RetryPolicy,
    error: ProxyError,
    attempt: int,
    *,
    streamed: bool,
    remaining: float,
    rand: Callable[[], float] = random.random,
) -> float | None:
    """Seconds to wait before retrying `error`, or None to give up and report it.

    `attempt` is how many retries were already made; `remaining` the request's time left.
    A 429's own hint (Retry-After) is honoured when it fits in the time left.
    """
    if streamed or attempt >= policy.allowed(error.upstream_status):
        return None
    delay = policy.backoff_delay(attempt, rand)
    if error.upstream_status == 429 and error.retry_after is not None:
        delay = max(delay, error.retry_after)
    # Leave the retry itself a fair share of the time (a CLI start alone takes ~0.5 s).
    if delay + 2.0 > remaining:
        return None
    return delay
