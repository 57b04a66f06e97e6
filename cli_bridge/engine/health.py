"""What the engine reports: the sections of /health and the gauges /metrics reads."""

from __future__ import annotations

from typing import TypedDict

from .parked import SessionStats
from .pool import PoolStats
from .ratelimits import RateLimitSnapshot
from .scheduler import QueueStats


class QueueHealth(QueueStats):
    active: int  # processes answering a request right now


class ToolHealth(TypedDict):
    """Client tools: MCP sessions open, model calls waiting for the client, and processes
    parked with open calls (they leave after `waiting.idle_window` s without an answer)."""

    sessions: int
    pending_calls: int
    waiting: SessionStats


class PoolHealth(PoolStats):
    sessions: SessionStats


class EngineGauges(TypedDict):
    """What /metrics reads from the engine at scrape time."""

    active: int  # CLI processes answering a request
    queued: int  # requests waiting for a CLI process
    pool_size: int  # warm processes ready
    retries: int  # upstream failures the proxy retried


class BridgeHealth(TypedDict):
    """The `queue`, `pool` and `rate_limits` sections of /health."""

    queue: QueueHealth
    pool: PoolHealth
    rate_limits: RateLimitSnapshot
    tools: ToolHealth
