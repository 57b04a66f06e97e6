"""The response store (handlers/store.py): put/get/delete per owner, chains, TTL and caps
cleaned, and a locked or corrupt database is a quick 503, never a hang."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from handlers.store import ResponseNotFound, ResponseStore, StoredResponse, StoreUnavailable


def record(
    rid: str,
    previous: str | None = None,
    owner: str = "",
    created: float | None = None,
    text: str = "x",
) -> StoredResponse:
    item = {"type": "message", "role": "user", "content": text}
    out = {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": rid}],
    }
    return StoredResponse(
        rid,
        owner,
        "sonnet",
        time.time() if created is None else created,
        previous,
        [item],
        [out],
        {"id": rid, "output": [out]},
    )


def store(tmp_path: Path, **kw) -> ResponseStore:
    options = {"ttl": 3600.0, "max_responses": 100, "max_bytes": 10**7, "busy_timeout": 0.3}
    return ResponseStore(tmp_path / "data" / "responses.sqlite3", **{**options, **kw})


async def test_put_get_delete_per_owner(tmp_path):
    s = store(tmp_path)
    await s.put(record("resp_a", owner="k1"))
    assert (await s.get("resp_a", "k1")).response == {
        "id": "resp_a",
        "output": [
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "resp_a"}],
            }
        ],
    }
    assert await s.get("resp_a", "k2") is None  # another key's: not found
    assert not await s.delete("resp_a", "k2")
    assert await s.delete("resp_a", "k1")
    assert await s.get("resp_a", "k1") is None
    assert (s.path.stat().st_mode & 0o777) == 0o600
    await s.aclose()


async def test_the_chain_walks_back_oldest_first(tmp_path):
    s = store(tmp_path)
    await s.put(record("resp_1"))
    await s.put(record("resp_2", "resp_1"))
    await s.put(record("resp_3", "resp_2"))
    assert [r.id for r in await s.chain("resp_3", "")] == ["resp_1", "resp_2", "resp_3"]
    with pytest.raises(ResponseNotFound) as missing:
        await s.chain("resp_3", "other-owner")
    assert missing.value.param == "previous_response_id" and missing.value.status == 404
    await s.delete("resp_1", "")
    with pytest.raises(ResponseNotFound, match="resp_1"):
        await s.chain("resp_3", "")
    await s.aclose()


async def test_ttl_and_caps_are_cleaned(tmp_path):
    now = [1000.0]
    s = store(tmp_path, ttl=100.0, max_responses=3, clock=lambda: now[0])
    for i in range(5):
        await s.put(record(f"resp_{i}", created=900.0 + i * 10))
    await s.put(record("resp_old", created=800.0))  # expired: never answered
    assert await s.get("resp_old", "") is None
    removed = await s.cleanup()
    assert removed == 3  # the expired one, then the oldest beyond 3
    assert [i for i in range(5) if await s.get(f"resp_{i}", "")] == [2, 3, 4]
    await s.aclose()


async def test_the_byte_cap_drops_the_oldest(tmp_path):
    s = store(tmp_path, max_bytes=2000)
    for i in range(6):
        await s.put(record(f"resp_{i}", created=time.time() + i, text="y" * 300))
    await s.cleanup()
    kept = [i for i in range(6) if await s.get(f"resp_{i}", "")]
    assert kept and kept == list(range(6 - len(kept), 6)) and len(kept) < 6
    await s.aclose()


async def test_a_corrupt_file_is_a_503_and_a_log_line(tmp_path, caplog):
    s = store(tmp_path)
    s.path.parent.mkdir(parents=True)
    s.path.write_bytes(b"this is not a database" * 100)
    await s.open()  # never fatal
    with pytest.raises(StoreUnavailable) as caught:
        await s.get("resp_x", "")
    assert caught.value.status == 503 and "unavailable" in caught.value.message
    assert any("response store" in r.message for r in caught_records(caplog))
    await s.aclose()


def caught_records(caplog):
    return [r for r in caplog.records if r.name == "claude_max_api"]


async def test_a_locked_database_is_a_quick_503(tmp_path):
    s = store(tmp_path, busy_timeout=0.3)
    await s.put(record("resp_1"))
    other = sqlite3.connect(s.path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another writer holds the database
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="locked"):
            await s.put(record("resp_2"))
        assert time.monotonic() - started < 3
    finally:
        other.execute("ROLLBACK")
        other.close()
    await s.put(record("resp_3"))  # free again: works
    await s.aclose()


async def test_a_busy_store_never_blocks_the_event_loop(tmp_path):
    s = store(tmp_path, busy_timeout=0.5)
    await s.put(record("resp_1"))
    other = sqlite3.connect(s.path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    with pytest.raises(StoreUnavailable):
        await s.put(record("resp_2"))
    ticker.cancel()
    other.execute("ROLLBACK")
    other.close()
    assert ticks > 10
    await s.aclose()


async def test_no_file_until_a_response_is_stored(tmp_path):
    s = store(tmp_path)
    await s.open(cleanup_interval=0.01)
    await asyncio.sleep(0.05)
    assert not s.path.exists()
    await s.aclose()
