"""cli_bridge.engine.scheduler: the concurrency cap, the FIFO queue and reclaiming idle slots."""

from __future__ import annotations

import asyncio

import pytest

from cli_bridge.engine.scheduler import (
    CLI_MEMORY,
    QueueFull,
    Scheduler,
    default_max_concurrency,
    queue_retry_after,
)
from cli_bridge.errors import RateLimited, Timeout


@pytest.mark.parametrize(
    ("cpus", "memory", "expected"),
    [
        (2, 24 * 2**30, 8),  # this machine: CPU-bound
        (16, 4 * 2**30, 8),  # small RAM: half of 4 GiB / 256 MiB
        (1, 2**20, 1),  # never below one
        (4, 0, 16),  # unknown memory: CPUs only
    ],
)
def test_default_max_concurrency(cpus, memory, expected):
    assert default_max_concurrency(cpus, memory) == expected


def test_default_max_concurrency_reads_the_machine():
    assert default_max_concurrency() >= 1
    assert CLI_MEMORY == 256 * 2**20


def test_queue_retry_after_is_bounded_and_grows_with_the_queue():
    assert queue_retry_after(0.01, 0, 4) == 1
    assert queue_retry_after(10, 3, 4) == 10
    assert queue_retry_after(10, 7, 4) == 20
    assert queue_retry_after(1000, 100, 1) == 60


def test_bad_limits_are_refused():
    with pytest.raises(ValueError):
        Scheduler(0, 1)
    with pytest.raises(ValueError):
        Scheduler(1, -1)


async def test_grants_up_to_the_cap_then_queues_fifo():
    s = Scheduler(2, 10)
    await s.acquire(1)
    await s.acquire(1)
    assert (s.used, s.waiting) == (2, 0)
    order: list[int] = []

    async def wait(i: int) -> None:
        await s.acquire(5)
        order.append(i)

    tasks = [asyncio.create_task(wait(i)) for i in range(3)]
    await asyncio.sleep(0.01)
    assert s.waiting == 3 and order == []
    s.release()
    await asyncio.sleep(0.01)
    assert order == [0]
    s.release()
    s.release()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2]
    assert (s.used, s.waiting) == (2, 0)
    s.release()
    s.release()
    assert s.used == 0


async def test_full_queue_is_an_immediate_429():
    s = Scheduler(1, 1)
    await s.acquire(1)
    waiter = asyncio.create_task(s.acquire(5))
    await asyncio.sleep(0.01)
    with pytest.raises(QueueFull) as caught:
        await s.acquire(5)
    err = caught.value
    assert isinstance(err, RateLimited)
    assert (err.status, err.type, err.code) == (429, "rate_limit_error", "queue_full")
    assert int(err.headers()["Retry-After"]) >= 1
    assert s.stats()["rejected"] == 1
    s.release()
    await waiter


async def test_zero_queue_refuses_at_once():
    s = Scheduler(1, 0)
    await s.acquire(1)
    with pytest.raises(QueueFull):
        await s.acquire(5)


async def test_waiting_counts_toward_the_timeout():
    s = Scheduler(1, 5)
    await s.acquire(1)
    with pytest.raises(Timeout) as caught:
        await s.acquire(0.05)
    assert caught.value.status == 504
    assert s.waiting == 0
    s.release()
    assert s.used == 0  # the timed-out waiter did not take the slot


async def test_cancelled_waiter_leaves_the_queue():
    s = Scheduler(1, 5)
    await s.acquire(1)
    task = asyncio.create_task(s.acquire(5))
    await asyncio.sleep(0.01)
    assert s.waiting == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert s.waiting == 0
    s.release()
    assert s.used == 0


async def test_background_work_never_jumps_the_queue():
    s = Scheduler(1, 5)
    assert s.try_acquire()
    assert not s.try_acquire()
    task = asyncio.create_task(s.acquire(5))
    await asyncio.sleep(0.01)
    s.release()  # goes to the waiting request
    await task
    assert not s.try_acquire()
    s.release()
    assert s.try_acquire()


async def test_waiters_reclaim_idle_slots_once_each():
    s = Scheduler(2, 5)
    idle = [object(), object()]
    retired: list[object] = []

    def reclaim() -> object | None:
        if not idle:
            return None
        token = idle.pop(0)
        retired.append(token)
        return token

    s.reclaimers.append(reclaim)
    assert s.try_acquire() and s.try_acquire()  # both slots held by idle processes
    task = asyncio.create_task(s.acquire(5))
    await asyncio.sleep(0.01)
    assert len(retired) == 1, "one waiter: one idle process retired, not two"
    s.release(retired[0])  # that process is gone
    await task
    assert s.used == 2 and s.waiting == 0


async def test_release_callbacks_fire():
    s = Scheduler(1, 1)
    calls: list[int] = []
    s.on_release.append(lambda: calls.append(1))
    await s.acquire(1)
    s.release()
    assert calls == [1]
