"""The response store: stored Responses for `GET /v1/responses/{id}` and `previous_response_id`.

One SQLite file (stdlib `sqlite3`, WAL mode: a committed response survives a restart and a
`kill -9`) under the data directory (`--data-dir`, default the user's data dir). Each row:
the id, the owner (the API key's digest, `security.caller_id()`; '' without keys), the model,
when it was created, the previous response's id, this request's input items, the output
items and the whole Response object, all JSON.

It is never a point where a request hangs: every call runs off the event loop
(`asyncio.to_thread`) behind one lock and SQLite's busy timeout, both bounded by
`busy_timeout` seconds; a locked, unreadable or corrupt database is a `StoreUnavailable`
(503) and a log line. Expired rows (`ttl`) are never answered and, like the oldest rows over
the caps (`max_responses`, `max_bytes`), removed by a background task.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from cli_bridge import ProxyError

log = logging.getLogger("claude_max_api")

FILE_NAME = "responses.sqlite3"
MAX_CHAIN = 10_000  # previous_response_id links followed at most
CLEANUP_INTERVAL = 60.0
T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    model TEXT NOT NULL,
    created REAL NOT NULL,
    previous_id TEXT,
    input_items TEXT NOT NULL,
    output_items TEXT NOT NULL,
    response TEXT NOT NULL,
    size INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS responses_created ON responses (created);
"""


class StoreUnavailable(ProxyError):
    status = 503
    type = "server_error"
    code = "store_unavailable"


class ResponseNotFound(ProxyError):
    status = 404
    type = "invalid_request_error"


def not_found(response_id: str, param: str | None = None) -> ResponseNotFound:
    return ResponseNotFound(f"Response with id '{response_id}' not found.", param=param)


@dataclass(frozen=True, slots=True)
class StoredResponse:
    id: str
    owner: str
    model: str
    created: float
    previous_id: str | None
    input_items: list[dict[str, Any]]
    output_items: list[dict[str, Any]]
    response: dict[str, Any]


def _row(row: sqlite3.Row | tuple[Any, ...]) -> StoredResponse:
    rid, owner, model, created, previous, inputs, outputs, response = row
    return StoredResponse(
        rid,
        owner,
        model,
        created,
        previous,
        json.loads(inputs),
        json.loads(outputs),
        json.loads(response),
    )


COLUMNS = "id, owner, model, created, previous_id, input_items, output_items, response"


class ResponseStore:
    """The store (module docstring). `path`: the SQLite file, created with its folder."""

    def __init__(
        self,
        path: Path,
        *,
        ttl: float,
        max_responses: int,
        max_bytes: int,
        busy_timeout: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.ttl = ttl
        self.max_responses = max_responses
        self.max_bytes = max_bytes
        self.busy_timeout = busy_timeout
        self.clock = clock
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._cleaner: asyncio.Task[None] | None = None

    # -- the connection (in worker threads, under the lock) ------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self._db is not None:
            return self._db
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        db = sqlite3.connect(
            self.path, timeout=self.busy_timeout, check_same_thread=False, isolation_level=None
        )
        try:
            db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.executescript(SCHEMA)
        except BaseException:
            db.close()
            raise
        with contextlib.suppress(OSError):
            self.path.chmod(0o600)
        self._db = db
        return db

    @contextlib.contextmanager
    def _using(self) -> Iterator[sqlite3.Connection]:
        if not self._lock.acquire(timeout=self.busy_timeout):
            raise self._unavailable("it is busy (another request holds it)")
        try:
            try:
                yield self._connect()
            except sqlite3.Error as exc:
                if self._db is not None and not isinstance(exc, sqlite3.OperationalError):
                    self._close()  # corrupt or unreadable: reopen next time
                raise self._unavailable(str(exc)) from exc
        finally:
            self._lock.release()

    def _unavailable(self, why: str) -> StoreUnavailable:
        log.error("response store %s unavailable: %s", self.path, why)
        return StoreUnavailable(
            f"The response store is unavailable ({why}); storing and reading responses "
            "(previous_response_id, GET /v1/responses/{id}) fails until it is fixed. "
            "Send `store: false` and the whole conversation as `input` meanwhile."
        )

    def _close(self) -> None:
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def work() -> T:
            with self._using() as db:
                return fn(db)

        return await asyncio.to_thread(work)

    # -- operations ---------------------------------------------------------------------

    def _live(self) -> float:
        return self.clock() - self.ttl

    async def put(self, record: StoredResponse) -> None:
        inputs = json.dumps(record.input_items, ensure_ascii=False)
        outputs = json.dumps(record.output_items, ensure_ascii=False)
        response = json.dumps(record.response, ensure_ascii=False)
        size = len(inputs) + len(outputs) + len(response)
        values = (
            record.id,
            record.owner,
            record.model,
            record.created,
            record.previous_id,
            inputs,
            outputs,
            response,
            size,
        )
        await self._run(
            lambda db: db.execute(
                f"INSERT INTO responses ({COLUMNS}, size) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )
        )

    async def get(self, response_id: str, owner: str) -> StoredResponse | None:
        """The caller's live response, or None (unknown, expired or another owner's)."""

        def read(db: sqlite3.Connection) -> StoredResponse | None:
            row = db.execute(
                f"SELECT {COLUMNS} FROM responses WHERE id = ? AND owner = ? AND created >= ?",
                (response_id, owner, self._live()),
            ).fetchone()
            return None if row is None else _row(row)

        return await self._run(read)

    async def delete(self, response_id: str, owner: str) -> bool:
        def remove(db: sqlite3.Connection) -> bool:
            cursor = db.execute(
                "DELETE FROM responses WHERE id = ? AND owner = ? AND created >= ?",
                (response_id, owner, self._live()),
            )
            return cursor.rowcount > 0

        return await self._run(remove)

    async def chain(self, response_id: str, owner: str) -> list[StoredResponse]:
        """The conversation ending at `response_id`, oldest first (one query: a consistent
        view). ResponseNotFound (param previous_response_id) names a missing link."""

        def read(db: sqlite3.Connection) -> list[StoredResponse]:
            rows = db.execute(
                f"""WITH RECURSIVE chain(n, rid) AS (
                        SELECT 0, ?
                        UNION ALL
                        SELECT n + 1, r.previous_id FROM chain JOIN responses r ON r.id = rid
                        WHERE r.previous_id IS NOT NULL AND n < ?
                    )
                    SELECT chain.rid, {", ".join(f"r.{c}" for c in COLUMNS.split(", ")[1:])}
                    FROM chain LEFT JOIN responses r
                      ON r.id = chain.rid AND r.owner = ? AND r.created >= ?
                    ORDER BY chain.n DESC""",
                (response_id, MAX_CHAIN, owner, self._live()),
            ).fetchall()
            missing = next((row[0] for row in rows if row[1] is None), None)
            if missing is not None:
                raise not_found(missing, "previous_response_id")
            return [_row(row) for row in rows]

        return await self._run(read)

    def _cleanup(self, db: sqlite3.Connection) -> int:
        before = db.total_changes
        db.execute("DELETE FROM responses WHERE created < ?", (self._live(),))
        db.execute(
            "DELETE FROM responses WHERE id IN (SELECT id FROM responses "
            "ORDER BY created DESC, rowid DESC LIMIT -1 OFFSET ?)",
            (self.max_responses,),
        )
        db.execute(
            "DELETE FROM responses WHERE id IN (SELECT id FROM (SELECT id, SUM(size) OVER "
            "(ORDER BY created DESC, rowid DESC) AS total FROM responses) WHERE total > ?)",
            (self.max_bytes,),
        )
        removed = db.total_changes - before
        if removed:
            db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        return removed

    async def cleanup(self) -> int:
        """Remove expired rows and the oldest beyond the caps; the number removed."""
        return await self._run(self._cleanup)

    # -- lifetime -----------------------------------------------------------------------

    async def open(self, cleanup_interval: float = CLEANUP_INTERVAL) -> None:
        """Open (or create) the database and start the cleaner. A broken database is logged,
        never fatal: chat keeps working, the Responses store answers 503. The file is created
        by the first response stored, never by a proxy that serves none."""
        if self.path.exists():
            with contextlib.suppress(StoreUnavailable):
                await self.cleanup()
        self._cleaner = asyncio.create_task(self._clean_every(cleanup_interval))

    async def _clean_every(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            if self._db is None and not self.path.exists():
                continue
            try:
                removed = await self.cleanup()
            except StoreUnavailable:
                continue
            if removed:
                log.info("response store: removed %d expired or over-cap responses", removed)

    async def aclose(self) -> None:
        if self._cleaner is not None:
            self._cleaner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._cleaner
        await asyncio.to_thread(self._close_locked)

    def _close_locked(self) -> None:
        with self._lock:
            self._close()
