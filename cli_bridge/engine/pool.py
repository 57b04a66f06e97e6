"""Warm pool: CLI processes started ahead, waiting on stdin for their first user message.

A CLI start costs ~0.5 s before it can answer; a process started with
`--input-format stream-json` waits silently for its input, so a request that finds one
writes its prompt at once. A process is fixed to a model and a system prompt when it starts
(`--system-prompt-file`), so the pool is keyed by both and learns which keys requests use
(decaying counts), seeded with the default model. A warm process serves one new
conversation only; it is recycled after an idle limit, refilled in the background, and gives
its slot back at once when a request needs it (see scheduler.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import TypedDict

from .history import ProcessKey
from .scheduler import Scheduler
from .worker import Worker

log = logging.getLogger("cli_bridge.pool")

HALF_LIFE = 600.0  # seconds for a key's demand to halve
MIN_SCORE = 0.2  # below this a key is not worth a warm process
SEED_SCORE = 1.0  # the default key's standing demand, so the pool is warm before traffic
MAX_KEYS = 32
REFILL_DELAY = 0.5  # seconds after a take before starting its replacement
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


class Demand:
    """Exponentially decaying request counts per key (pure: the caller passes `now`)."""

    def __init__(self, seed: ProcessKey | None = None, half_life: float = HALF_LIFE) -> None:
        self.seed = seed
        self.half_life = half_life
        self._score: dict[ProcessKey, tuple[float, float]] = {}  # key -> (score, at)

    def _decayed(self, key: ProcessKey, now: float) -> float:
        score, at = self._score.get(key, (0.0, now))
        return score * math.pow(0.5, max(0.0, now - at) / self.half_life)

    def record(self, key: ProcessKey, now: float) -> None:
        self._score[key] = (self._decayed(key, now) + 1.0, now)
        if len(self._score) > MAX_KEYS:
            weakest = min(self._score, key=lambda k: self._decayed(k, now))
            del self._score[weakest]

    def scores(self, now: float) -> dict[ProcessKey, float]:
        out = {key: self._decayed(key, now) for key in self._score}
        if self.seed is not None:
            out[self.seed] = out.get(self.seed, 0.0) + SEED_SCORE
        return {key: score for key, score in out.items() if score >= MIN_SCORE}


def next_key(
    scores: dict[ProcessKey, float], warm: dict[ProcessKey, int], size: int
) -> ProcessKey | None:
    """The key the next warm process should have, or None when the pool is full.

    Seats are shared out by highest averages (D'Hondt): the busiest key gets the first
    process, and a second key gets one once its demand passes half of the first's.
    """
    if sum(warm.values()) >= size or not scores:
        return None
    return max(scores, key=lambda k: (scores[k] / (warm.get(k, 0) + 1), k.cli_model))


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
            self.demand.record(key, time.monotonic())

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
                asyncio.get_running_loop().call_later(REFILL_DELAY, self._wake.set)
                return worker
            self._retire(worker, False)
        self.misses += 1
        return None

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
            await self._fill()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._next_expiry(time.monotonic())):
                    await self._wake.wait()

    async def _fill(self) -> None:
        while True:
            warm: dict[ProcessKey, int] = {}
            for worker in self._idle:
                warm[worker.key] = warm.get(worker.key, 0) + 1
            key = next_key(self.demand.scores(time.monotonic()), warm, self.size)
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
