"""Warm pool: CLI processes started ahead, waiting on stdin for their first user message.

A CLI start costs ~0.5 s before it can answer; a process started with
`--input-format stream-json` waits silently for its input, so a request that finds one
writes its prompt at once. A process is fixed to a model and a system slot when it starts,
so the pool is keyed by both (in `user` system-prompt mode the slot is the same base prompt
for everyone: keyed by model alone). It follows the keys requests use: demand counts decay
per request, the seats are shared by them, and warm processes of keys nobody asks for any
more are retired to make room for the ones that miss — always in the background, a moment
after the request that caused the change, and inside the concurrency cap. A warm process
serves one new conversation only; it is recycled after an idle limit, refilled in the
background, and gives its slot back at once when a request needs it (see scheduler.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypedDict

from .history import ProcessKey
from .scheduler import Scheduler
from .worker import Worker

log = logging.getLogger("cli_bridge.pool")

DECAY = 0.8  # per request, every key's demand is multiplied by this: ~the last 5 requests
MIN_SCORE = 0.2  # below this a key is not worth a warm process
SEED_SCORE = 1.0  # the default key's demand until the first request is seen
MAX_KEYS = 32
REFILL_DELAY = 0.5  # seconds after a take before starting its replacement
MISS_DELAY = 1.0  # seconds after a miss before the pool follows it (past the cold start)
BACKOFF = 0.25  # first back-off after a failed start; doubles per failure
MAX_BACKOFF = 60.0
EARLY_DEATH = 10.0  # a warm process dead this young counts as a start failure


class PoolStats(TypedDict):
    size: int
    warm: int
    warm_by_key: dict[str, int]  # ProcessKey.label -> warm processes
    hits: int
    misses: int
    spawned: int
    recycled: int
    rebalanced: int  # warm processes retired because requests wanted other keys


class Demand:
    """Which keys the last few requests used: counts that decay per request (not per second),
    so the pool follows a change of traffic within a few requests and keeps what it learnt
    while no requests come. The seed stands in until the first request."""

    def __init__(self, seed: ProcessKey | None = None, decay: float = DECAY) -> None:
        self.seed = seed
        self.decay = decay
        self._score: dict[ProcessKey, float] = {}

    def record(self, key: ProcessKey) -> None:
        score = {k: v * self.decay for k, v in self._score.items()}
        score[key] = score.get(key, 0.0) + 1.0
        kept = sorted(score.items(), key=lambda kv: -kv[1])[:MAX_KEYS]
        self._score = {k: v for k, v in kept if v >= MIN_SCORE or k == key}

    def scores(self) -> dict[ProcessKey, float]:
        if not self._score:
            return {self.seed: SEED_SCORE} if self.seed is not None else {}
        return {key: score for key, score in self._score.items() if score >= MIN_SCORE}


def _order(
    scores: dict[ProcessKey, float], warm: dict[ProcessKey, int], k: ProcessKey
) -> tuple[float, str]:
    return scores[k] / (warm.get(k, 0) + 1), k.cli_model


def next_key(
    scores: dict[ProcessKey, float], warm: dict[ProcessKey, int], size: int
) -> ProcessKey | None:
    """The key the next warm process should have, or None when the pool is full.

    Seats are shared out by highest averages (D'Hondt): the busiest key gets the first
    process, and a second key gets one once its demand passes half of the first's.
    """
    if sum(warm.values()) >= size or not scores:
        return None
    return max(scores, key=lambda k: _order(scores, warm, k))


def allocation(scores: dict[ProcessKey, float], size: int) -> dict[ProcessKey, int]:
    """How many of `size` warm processes each key deserves (D'Hondt, as `next_key`)."""
    seats: dict[ProcessKey, int] = {}
    while (key := next_key(scores, seats, size)) is not None:
        seats[key] = seats.get(key, 0) + 1
    return seats


def surplus(
    scores: dict[ProcessKey, float], warm: dict[ProcessKey, int], size: int
) -> dict[ProcessKey, int]:
    """Warm processes to retire per key so that keys short of their share can be warmed:
    only as many as the pool lacks free seats for, least wanted keys first."""
    target = allocation(scores, size)
    short = sum(max(0, n - warm.get(k, 0)) for k, n in target.items())
    need = short - max(0, size - sum(warm.values()))
    out: dict[ProcessKey, int] = {}
    for key in sorted(warm, key=lambda k: scores.get(k, 0.0)):
        extra = min(need, warm[key] - target.get(key, 0))
        if extra > 0:
            out[key] = extra
            need -= extra
    return out


def wanted(
    scores: dict[ProcessKey, float], warm: dict[ProcessKey, int], size: int
) -> ProcessKey | None:
    """The key to warm next: the most wanted one short of its share, if a seat is free."""
    if sum(warm.values()) >= size:
        return None
    target = allocation(scores, size)
    short = [k for k, n in target.items() if warm.get(k, 0) < n]
    return max(short, key=lambda k: _order(scores, warm, k)) if short else None


class WarmPool:
    def __init__(
        self,
        size: int,
        idle_limit: float,
        seed: ProcessKey | None,
        scheduler: Scheduler,
        spawn: Callable[[ProcessKey], Awaitable[Worker]],
        retire: Callable[[Worker, bool], object],
    ) -> None:
        self.size = size
        self.idle_limit = idle_limit
        self.demand = Demand(seed)
        self._scheduler = scheduler
        self._spawn = spawn
        self._retire = retire
        self._idle: list[Worker] = []  # oldest first
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failures = 0
        self._watches: set[asyncio.Future[int]] = set()
        self.hits = 0
        self.misses = 0
        self.spawned = 0
        self.recycled = 0
        self.rebalanced = 0
        self._hold_until = 0.0  # loop time before which the pool starts no process

    @property
    def enabled(self) -> bool:
        return self.size > 0

    def start(self) -> None:
        if self.enabled and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
            self._scheduler.on_release.append(self._wake.set)

    def note(self, key: ProcessKey) -> None:
        """A request for `key` arrived (hit or miss): learn it. No refill now: a CLI start
        takes a CPU core for ~0.4 s, which would slow the very request that arrived."""
        if self.enabled:
            self.demand.record(key)

    def take(self, key: ProcessKey) -> Worker | None:
        """A warm worker for `key` (now owned by the caller), or None."""
        if not self.enabled:
            return None
        for worker in list(self._idle):
            if worker.key != key:
                continue
            self._idle.remove(worker)
            if worker.alive:
                self.hits += 1
                self._failures = 0
                # Refill once the taker is past its first token (same reason as in note).
                self._hold(REFILL_DELAY)
                return worker
            self._retire(worker, False)
        self.misses += 1
        # Follow the traffic once the cold start this miss causes is past its first token.
        self._hold(MISS_DELAY)
        return None

    def _hold(self, delay: float) -> None:
        """No spawn for `delay` seconds (a request is starting up now), then a refill."""
        loop = asyncio.get_running_loop()
        self._hold_until = max(self._hold_until, loop.time() + delay)
        loop.call_later(delay, self._wake.set)

    def reclaim(self) -> Worker | None:
        """Give a slot back to a waiting request: retire the oldest warm worker."""
        if not self._idle:
            return None
        worker = self._idle.pop(0)
        self._retire(worker, False)
        return worker

    async def aclose(self) -> None:
        """Stop refilling and retire every warm worker."""
        self.size = 0
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while self._idle:
            self._retire(self._idle.pop(), False)

    def pids(self) -> list[int]:
        """Warm process ids, oldest first (tests and debugging)."""
        return [worker.pid for worker in self._idle]

    def stats(self) -> PoolStats:
        by_key: dict[str, int] = {}
        for worker in self._idle:
            by_key[worker.key.label] = by_key.get(worker.key.label, 0) + 1
        return {
            "size": self.size,
            "warm": len(self._idle),
            "warm_by_key": by_key,
            "hits": self.hits,
            "misses": self.misses,
            "spawned": self.spawned,
            "recycled": self.recycled,
            "rebalanced": self.rebalanced,
        }

    def _watched(self, watch: asyncio.Future[int]) -> None:
        self._watches.discard(watch)
        self._wake.set()

    # --- background refill ----------------------------------------------------------------
    def _recycle(self, now: float) -> None:
        """Retire dead and over-age warm workers."""
        for worker in list(self._idle):
            age = now - worker.idle_since
            if worker.alive and age < self.idle_limit:
                continue
            self._idle.remove(worker)
            if worker.alive:
                self.recycled += 1
                self._failures = 0
            elif age < EARLY_DEATH:
                self._failures = min(self._failures + 1, 8)  # a CLI that dies at once
                tail = worker.proc.stderr_tail
                log.warning("warm CLI pid %s exited by itself: %s", worker.pid, tail)
            self._retire(worker, False)

    def _next_expiry(self, now: float) -> float | None:
        ages = [now - worker.idle_since for worker in self._idle]
        return max(0.0, self.idle_limit - max(ages)) if ages else None

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            self._recycle(time.monotonic())
            if self._failures:  # the CLI is missing or crashing: do not spin
                await asyncio.sleep(min(MAX_BACKOFF, BACKOFF * 2**self._failures))
            # A woken pool (a slot freed) still waits while a request is starting up.
            while (held := self._hold_until - asyncio.get_running_loop().time()) > 0:
                await asyncio.sleep(held)
            await self._fill()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._next_expiry(time.monotonic())):
                    await self._wake.wait()

    def _warm(self) -> dict[ProcessKey, int]:
        warm: dict[ProcessKey, int] = {}
        for worker in self._idle:
            warm[worker.key] = warm.get(worker.key, 0) + 1
        return warm

    def _rebalance(self, scores: dict[ProcessKey, float]) -> None:
        """Retire idle warm workers (oldest first) of keys requests no longer want, to make
        room for keys they do; the slots come back once those are reaped."""
        for key, count in surplus(scores, self._warm(), self.size).items():
            for worker in [w for w in self._idle if w.key == key][:count]:
                self._idle.remove(worker)
                self.rebalanced += 1
                log.debug("warm pool: retiring pid %s (%s) for busier keys", worker.pid, key.label)
                self._retire(worker, False)

    async def _fill(self) -> None:
        scores = self.demand.scores()
        self._rebalance(scores)
        while True:
            key = wanted(scores, self._warm(), self.size)
            if key is None or not self._scheduler.try_acquire():
                return
            try:
                worker = await self._spawn(key)
            except Exception as exc:
                self._failures = min(self._failures + 1, 8)
                level = logging.WARNING if self._failures == 1 else logging.DEBUG
                log.log(level, "warm pool could not start a CLI process: %s", exc)
                return
            self.spawned += 1
            self._idle.append(worker)
            # Notice at once if it dies while waiting, so its slot is not held by a corpse.
            watch = asyncio.ensure_future(worker.proc.wait())
            self._watches.add(watch)
            watch.add_done_callback(self._watched)
