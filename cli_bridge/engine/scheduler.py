"""Concurrency cap and bounded FIFO queue for CLI processes.

A slot is one live CLI process, whatever it is doing: answering a request, waiting warm in
the pool, or holding a conversation between turns. So `max_concurrency` bounds memory (each
CLI takes about 200 MB). Idle holders give their slot back on demand: a request that finds
no free slot asks them (`reclaimers`) to retire, and gets the slot once that process is gone.
Beyond `max_queue` waiters a request is refused at once with 429 and a `Retry-After` estimate.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import math
import os
from collections.abc import Callable
from typing import TypedDict

from ..errors import RateLimited, Timeout

# Memory set aside per CLI process when sizing the default cap (measured peak RSS ~205 MB).
CLI_MEMORY = 256 * 1024 * 1024

# A reclaimer retires one idle process and returns a token that the process's later
# `release(token)` hands back, or None when it had nothing idle to give.
Reclaimer = Callable[[], object | None]


class QueueStats(TypedDict):
    max_concurrency: int
    max_queue: int
    processes: int
    queued: int
    rejected: int


class QueueFull(RateLimited):
    code = "queue_full"


def default_max_concurrency(cpus: int | None = None, memory: int | None = None) -> int:
    """4 processes per core (they mostly wait on the upstream), at most half the RAM's worth."""
    cpus = cpus or os.cpu_count() or 1
    if memory is None:
        try:
            memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            memory = 0
    by_cpu = 4 * cpus
    by_memory = memory // 2 // CLI_MEMORY if memory > 0 else by_cpu
    return max(1, min(by_cpu, by_memory))


def queue_retry_after(mean_hold: float, waiting: int, slots: int) -> int:
    """Seconds until a refused client may find room: the queue ahead drained at our pace."""
    estimate = mean_hold * (waiting + 1) / max(1, slots)
    return int(min(60, max(1, math.ceil(estimate))))


class Scheduler:
    def __init__(self, max_concurrency: int, max_queue: int) -> None:
        if max_concurrency < 1 or max_queue < 0:
            raise ValueError("max_concurrency must be >= 1 and max_queue >= 0")
        self.max_concurrency = max_concurrency
        self.max_queue = max_queue
        self.reclaimers: list[Reclaimer] = []
        self.on_release: list[Callable[[], None]] = []
        self._used = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._freeing: set[int] = set()  # tokens of processes retired to make room
        self._mean_hold = 5.0
        self.rejected = 0
        self.granted = 0

    @property
    def used(self) -> int:
        return self._used

    @property
    def waiting(self) -> int:
        return sum(1 for w in self._waiters if not w.done())

    def try_acquire(self) -> bool:
        """A free slot for background work (the pool), never ahead of a waiting request."""
        if self._used < self.max_concurrency and not self.waiting:
            self._used += 1
            return True
        return False

    async def acquire(self, timeout: float) -> None:
        """Wait (FIFO) for a slot; QueueFull when the queue is full, Timeout after `timeout`."""
        if self._used < self.max_concurrency and not self.waiting:
            self._used += 1
            self.granted += 1
            return
        if self.waiting >= self.max_queue:
            self.rejected += 1
            retry = queue_retry_after(self._mean_hold, self.waiting, self.max_concurrency)
            raise QueueFull(
                f"Too many requests: {self.max_concurrency} CLI processes are busy and "
                f"{self.waiting} requests are queued. Retry in {retry} s.",
                retry_after=retry,
            )
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._reclaim()
        try:
            async with asyncio.timeout(max(timeout, 0.0)):
                await waiter
        except TimeoutError:
            self._abandon(waiter)
            raise Timeout(
                f"The request waited {timeout:g} s for a free CLI process and timed out"
            ) from None
        except BaseException:
            self._abandon(waiter)
            raise
        self.granted += 1

    def _abandon(self, waiter: asyncio.Future[None]) -> None:
        if waiter.done() and not waiter.cancelled():
            self.release()  # the slot was handed over just as we gave up: pass it on
        else:
            waiter.cancel()
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)

    def release(self, token: object = None, held_for: float | None = None) -> None:
        """A process is gone: its slot goes to the first waiter, or back to the free count."""
        self._freeing.discard(id(token))
        if held_for is not None:
            self._mean_hold = 0.8 * self._mean_hold + 0.2 * held_for
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                self._reclaim()
                break
        else:
            self._used -= 1
        for callback in self.on_release:
            callback()

    def _reclaim(self) -> None:
        """Retire idle processes until every waiter has a slot coming."""
        need = self.waiting - len(self._freeing) - (self.max_concurrency - self._used)
        for reclaim in self.reclaimers:
            while need > 0:
                token = reclaim()
                if token is None:
                    break
                self._freeing.add(id(token))
                need -= 1

    def stats(self) -> QueueStats:
        return {
            "max_concurrency": self.max_concurrency,
            "max_queue": self.max_queue,
            "processes": self._used,
            "queued": self.waiting,
            "rejected": self.rejected,
        }
