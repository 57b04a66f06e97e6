"""cli_bridge.engine.pool and .sessions: keying, learning, refill, recycling, parking.

Workers here are stand-ins (no processes): the pool and the session table only look at a
worker's key, liveness and idle time, and hand it to a retire callback.
"""

from __future__ import annotations

import asyncio

import pytest

from cli_bridge.engine.history import ProcessKey
from cli_bridge.engine.parked import LiveSessions
from cli_bridge.engine.pool import (
    DECAY,
    MAX_KEYS,
    MIN_SCORE,
    Demand,
    WarmPool,
    allocation,
    next_key,
    surplus,
    wanted,
)
from cli_bridge.engine.scheduler import Scheduler

OPUS = ProcessKey("opus")
SONNET = ProcessKey("sonnet")
OPUS_SYS = ProcessKey("opus", "You are terse.")


class StubProc:
    def __init__(self) -> None:
        self.exited: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.stderr_tail = ""

    async def wait(self) -> int:
        return await self.exited


class StubWorker:
    pids = iter(range(1000, 10**6))

    def __init__(self, key: ProcessKey) -> None:
        self.key = key
        self.pid = next(self.pids)
        self.proc = StubProc()
        self.idle_since = asyncio.get_running_loop().time()
        self.dead = False

    @property
    def alive(self) -> bool:
        return not self.dead

    def die(self) -> None:
        self.dead = True
        self.proc.exited.set_result(1)


# --- Demand / next_key: pure ---------------------------------------------------------------
def test_demand_decays_per_request():
    d = Demand()
    d.record(OPUS)
    d.record(OPUS)
    assert d.scores()[OPUS] == pytest.approx(1 + DECAY)
    d.record(SONNET)
    assert d.scores() == {OPUS: pytest.approx((1 + DECAY) * DECAY), SONNET: 1.0}
    for _ in range(20):
        d.record(SONNET)
    assert OPUS not in d.scores(), "forgotten below MIN_SCORE after enough other requests"


def test_demand_keeps_what_it_learnt_while_no_requests_come():
    d = Demand(seed=OPUS)
    d.record(SONNET)
    assert d.scores() == {SONNET: 1.0}, "time alone changes nothing; the seed never returns"


def test_seed_stands_in_until_the_first_request():
    d = Demand(seed=OPUS)
    assert d.scores() == {OPUS: pytest.approx(1.0)}
    d.record(SONNET)
    assert OPUS not in d.scores()


def test_demand_keeps_a_bounded_number_of_keys():
    d = Demand(decay=0.999)
    for i in range(MAX_KEYS + 10):
        d.record(ProcessKey(f"m{i}"))
    assert len(d.scores()) <= MAX_KEYS
    assert MIN_SCORE > 0


def test_allocation_surplus_and_wanted():
    scores = {SONNET: 3.0}
    assert allocation(scores, 2) == {SONNET: 2}
    assert surplus(scores, {OPUS: 2}, 2) == {OPUS: 2}, "keys nobody asks for make room"
    assert surplus(scores, {OPUS: 1}, 2) == {OPUS: 1}
    assert surplus(scores, {SONNET: 1}, 2) == {}, "a free seat needs no retirement"
    assert surplus({}, {OPUS: 2}, 2) == {}, "no demand: keep what is warm"
    assert wanted(scores, {OPUS: 2}, 2) is None, "full: retire first"
    assert wanted(scores, {}, 2) == SONNET
    assert wanted(scores, {SONNET: 2}, 2) is None
    mixed = {SONNET: 3.0, OPUS: 2.0}
    assert allocation(mixed, 2) == {SONNET: 1, OPUS: 1}
    assert surplus(mixed, {SONNET: 2}, 2) == {SONNET: 1}
    assert wanted(mixed, {SONNET: 1}, 2) == OPUS


def test_next_key_shares_seats_by_highest_average():
    scores = {OPUS: 10.0, SONNET: 4.0}
    assert next_key(scores, {}, 3) == OPUS
    assert next_key(scores, {OPUS: 1}, 3) == OPUS  # 10/2 = 5 > 4
    assert next_key(scores, {OPUS: 2}, 3) == SONNET  # 10/3 < 4
    assert next_key(scores, {OPUS: 2, SONNET: 1}, 3) is None  # full
    assert next_key({}, {}, 3) is None


def test_system_prompt_is_part_of_the_key():
    assert OPUS != OPUS_SYS
    assert next_key({OPUS_SYS: 5.0, OPUS: 1.0}, {}, 1) == OPUS_SYS


# --- WarmPool with stand-in workers ----------------------------------------------------------
def make_pool(size=2, idle=300.0, cap=4, seed=OPUS, fail=False):
    scheduler = Scheduler(cap, 10)
    spawned: list[StubWorker] = []
    retired: list[StubWorker] = []

    async def spawn(key: ProcessKey) -> StubWorker:
        if fail:
            scheduler.release()
            raise OSError("no claude here")
        worker = StubWorker(key)
        spawned.append(worker)
        return worker

    def retire(worker: StubWorker, polite: bool) -> None:
        retired.append(worker)
        scheduler.release(worker)

    pool = WarmPool(size, idle, seed, scheduler, spawn, retire)  # type: ignore[arg-type]
    return pool, scheduler, spawned, retired


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0.01)


async def test_pool_fills_with_the_seed_and_serves_it_once(monkeypatch):
    monkeypatch.setattr("cli_bridge.engine.pool.REFILL_DELAY", 0.01)
    monkeypatch.setattr("cli_bridge.engine.pool.MISS_DELAY", 0.01)
    pool, scheduler, spawned, _ = make_pool(size=2)
    pool.start()
    await settle()
    assert pool.stats()["warm"] == 2 and scheduler.used == 2
    assert pool.take(SONNET) is None and pool.stats()["misses"] == 1
    worker = pool.take(OPUS)
    assert worker is spawned[0] and pool.stats()["hits"] == 1
    pool.note(OPUS)  # a request arriving does not start a CLI next to it
    await asyncio.sleep(0)
    assert pool.stats()["warm"] == 1
    await settle()
    assert pool.stats()["warm"] == 2, "refilled in the background, shortly after"
    assert worker not in pool._idle, "a taken worker never comes back to the pool"
    await pool.aclose()
    assert pool.stats()["warm"] == 0 and scheduler.used == 1  # only the taken one


async def test_pool_learns_the_keys_requests_use():
    pool, _, _, _ = make_pool(size=1, seed=OPUS)
    for _ in range(5):
        pool.note(OPUS_SYS)
    pool.start()
    await settle()
    assert pool.stats()["warm_by_key"] == {OPUS_SYS.label: 1}
    await pool.aclose()


async def request(pool: WarmPool, scheduler: Scheduler, key: ProcessKey) -> bool:
    """What the bridge does for one request: note, take warm, else a cold start (a slot)."""
    pool.note(key)
    spawned_before = pool.stats()["spawned"]
    worker = pool.take(key)
    assert pool.stats()["spawned"] == spawned_before, "never a spawn on the request path"
    if worker is None:
        await scheduler.acquire(1)
    scheduler.release()  # the request is over; its process is gone
    return worker is not None


async def test_pool_follows_sonnet_only_traffic(monkeypatch):
    """The pool starts warm with the seed (opus); a client asks only for sonnet: within a
    few requests the pool holds sonnet processes only, inside the cap, and serves warm."""
    monkeypatch.setattr("cli_bridge.engine.pool.REFILL_DELAY", 0.02)
    monkeypatch.setattr("cli_bridge.engine.pool.MISS_DELAY", 0.05)
    pool, scheduler, spawned, retired = make_pool(size=2, cap=3)
    peak = 0

    def watch() -> None:
        nonlocal peak
        peak = max(peak, scheduler.used)

    scheduler.on_release.append(watch)
    pool.start()
    await settle()
    assert pool.stats()["warm_by_key"] == {OPUS.label: 2}
    served = []
    for _ in range(6):
        served.append(await request(pool, scheduler, SONNET))
        watch()
        await asyncio.sleep(0.15)  # the client reads the answer
        watch()
    assert served[0] is False and all(served[1:]), served
    assert pool.stats()["warm_by_key"] == {SONNET.label: 2}
    assert {w.key for w in retired if w in spawned[:2]} == {OPUS}
    assert pool.stats()["rebalanced"] == 2
    assert peak <= 3 and scheduler.used <= 3
    await pool.aclose()


async def test_following_waits_past_the_request_that_missed(monkeypatch):
    monkeypatch.setattr("cli_bridge.engine.pool.MISS_DELAY", 0.2)
    pool, scheduler, spawned, retired = make_pool(size=2)
    pool.start()
    await settle()
    assert await request(pool, scheduler, SONNET) is False
    await asyncio.sleep(0.05)
    assert len(spawned) == 2 and retired == [], "nothing changes while the cold start runs"
    await asyncio.sleep(0.3)
    assert pool.stats()["warm_by_key"] == {SONNET.label: 2}
    await pool.aclose()


async def test_mixed_traffic_shares_the_seats(monkeypatch):
    monkeypatch.setattr("cli_bridge.engine.pool.REFILL_DELAY", 0.01)
    monkeypatch.setattr("cli_bridge.engine.pool.MISS_DELAY", 0.01)
    pool, scheduler, _, _ = make_pool(size=2, cap=4)
    pool.start()
    for key in (SONNET, OPUS, SONNET, OPUS, SONNET, OPUS):
        await request(pool, scheduler, key)
        await settle()
    assert pool.stats()["warm_by_key"] == {SONNET.label: 1, OPUS.label: 1}
    await pool.aclose()


async def test_following_stays_inside_the_cap(monkeypatch):
    """Two requests hold 2 of 3 slots: the pool may keep one warm process only."""
    monkeypatch.setattr("cli_bridge.engine.pool.MISS_DELAY", 0.01)
    pool, scheduler, _, _ = make_pool(size=2, cap=3)
    pool.start()
    await settle()
    assert scheduler.used == 2
    pool.note(SONNET)
    assert pool.take(SONNET) is None
    await scheduler.acquire(1)
    await scheduler.acquire(1)  # gets a slot the retired opus processes freed
    await settle()
    assert scheduler.used <= 3
    assert pool.stats()["warm"] <= 1
    await pool.aclose()


async def test_pool_never_takes_a_slot_a_request_waits_for():
    pool, scheduler, _, _ = make_pool(size=2, cap=1)
    await scheduler.acquire(1)  # a request holds the only slot
    pool.start()
    await settle()
    assert pool.stats()["warm"] == 0
    scheduler.release()
    await settle()
    assert pool.stats()["warm"] == 1, "refills when the slot frees"
    await pool.aclose()


async def test_reclaim_gives_the_oldest_warm_slot_back():
    pool, scheduler, spawned, retired = make_pool(size=2, cap=2)
    scheduler.reclaimers.append(pool.reclaim)
    pool.start()
    await settle()
    assert scheduler.used == 2
    pool.size = 0  # stop refilling so the freed slot is visible
    await scheduler.acquire(1)  # waits for a reclaimed slot
    assert retired == [spawned[0]]
    await pool.aclose()


async def test_idle_workers_are_recycled():
    pool, _, spawned, retired = make_pool(size=1, idle=0.05)
    pool.start()
    await asyncio.sleep(0.3)
    assert retired and retired[0] is spawned[0]
    assert pool.stats()["recycled"] >= 1 and pool.stats()["warm"] == 1
    await pool.aclose()


async def test_a_dead_warm_worker_is_replaced_and_never_served(monkeypatch):
    monkeypatch.setattr("cli_bridge.engine.pool.BACKOFF", 0.01)
    pool, _, spawned, retired = make_pool(size=1)
    pool.start()
    await settle()
    spawned[0].die()
    await asyncio.sleep(0.2)  # dead young: one back-off step before the refill
    assert spawned[0] in retired
    worker = pool.take(OPUS)
    assert worker is not None and worker is not spawned[0] and worker.alive
    await pool.aclose()


async def test_spawn_failures_back_off_instead_of_spinning():
    pool, scheduler, _, _ = make_pool(size=2, fail=True)
    pool.start()
    await asyncio.sleep(0.3)  # back-offs 0.5 s, 1 s, ...: one failed start so far
    assert pool.stats()["spawned"] == 0 and scheduler.used == 0
    assert pool._failures == 1, "retried after a back-off, not in a tight loop"
    await pool.aclose()


async def test_size_zero_disables_the_pool():
    pool, scheduler, spawned, _ = make_pool(size=0)
    pool.start()
    pool.note(OPUS)
    await settle()
    assert spawned == [] and pool.take(OPUS) is None and scheduler.used == 0


# --- LiveSessions ---------------------------------------------------------------------------
async def test_sessions_park_take_and_expire():
    retired: list[tuple[StubWorker, bool]] = []
    sessions = LiveSessions(0.05, lambda w, polite: retired.append((w, polite)))
    a, b = StubWorker(OPUS), StubWorker(OPUS)
    assert sessions.park(a, "digest-a")  # type: ignore[arg-type]
    assert sessions.park(b, "digest-b")  # type: ignore[arg-type]
    assert sessions.take("nope") is None
    assert sessions.take("digest-a") is a
    assert sessions.take("digest-a") is None, "taken once only"
    await asyncio.sleep(0.1)
    assert retired == [(b, True)] and len(sessions) == 0
    assert sessions.stats()["expired"] == 1 and sessions.stats()["hits"] == 1


async def test_sessions_reclaim_oldest_first_and_skip_dead():
    retired: list[StubWorker] = []
    sessions = LiveSessions(60, lambda w, polite: retired.append(w))
    a, b, c = StubWorker(OPUS), StubWorker(OPUS), StubWorker(OPUS)
    for worker, digest in ((a, "a"), (b, "b"), (c, "c")):
        sessions.park(worker, digest)  # type: ignore[arg-type]
    assert sessions.reclaim() is a
    c.die()
    assert sessions.take("c") is None and retired == [a, c]
    sessions.close()
    assert retired == [a, c, b] and not sessions.enabled
    assert not sessions.park(StubWorker(OPUS), "d")  # type: ignore[arg-type]


async def test_sessions_disabled_with_zero_window():
    sessions = LiveSessions(0, lambda w, polite: None)
    assert not sessions.park(StubWorker(OPUS), "x")  # type: ignore[arg-type]
