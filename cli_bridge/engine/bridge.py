"""The bridge: one chat turn in, a stream of typed CLI events out.

It owns the process engine: a request gets a CLI process from a live conversation that
holds exactly its history, else (a first turn) from the warm pool, else by a cold start once
the scheduler grants a slot (waiting in the FIFO queue counts toward the request's timeout).
A cold start for a request with history resumes a transcript of it (resume.py), so the
upstream always receives the prior turns as the real turns they were. Upstream
failures the CLI reports are retried here, per the retry policy, while nothing has been
streamed. Every process runs in its own empty run directory, removed when it is gone.
An answer that ends at client tool calls leaves its process waiting in `awaiting`, inside
the MCP calls, for the request that brings their results (tool_turns.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import replace

from ..errors import CliFailed, ProxyError, Timeout
from ..protocol.events import (
    ApiRetry,
    AssistantBlock,
    CliEvent,
    MalformedLine,
    Result,
    TextDelta,
    ThinkingDelta,
    ToolCallsPending,
    event_from_line,
)
from ..protocol.result import error_from_result
from .config import BridgeConfig
from .health import BridgeHealth, EngineGauges, ToolHealth
from .history import ProcessKey, ReplyText, continues, conversation_digest, held_turns
from .observer import TurnObserver
from .parked import LiveSessions
from .pool import WarmPool
from .ratelimits import RateLimitBoard
from .reaper import OrphanGuard
from .request import CliRequest
from .retry import retry_delay
from .scheduler import Scheduler
from .structured import checked_events
from .tool_round import (
    ToolRound,
    UsageTally,
)
from .tool_turns import answer_calls, open_calls, resumed_history, send_turn, waiting_for
from .turn import Turn
from .worker import Worker, WorkerFactory

log = logging.getLogger("cli_bridge")


class _StaleWorker(Exception):
    """A reused process died before it printed anything: start a fresh one instead."""


def _is_content(event: CliEvent) -> bool:
    """Whether the client may already have been sent something for this event."""
    if isinstance(event, TextDelta | ThinkingDelta):
        return True
    return isinstance(event, AssistantBlock) and not event.is_api_error


class ClaudeBridge:
    def __init__(
        self,
        config: BridgeConfig,
        environ: Mapping[str, str] | None = None,
        observer: TurnObserver | None = None,
    ) -> None:
        self.config = config
        self.observer = observer  # metrics: sees every parsed CLI event of every turn
        self.scheduler = Scheduler(config.max_concurrency, config.max_queue)
        self.guard = OrphanGuard(sentinel=config.orphan_sentinel)
        self.workers = WorkerFactory(
            config, os.environ if environ is None else environ, self.scheduler, self.guard
        )
        seed = (
            ProcessKey(config.pool_model, config.pool_system_prompt) if config.pool_model else None
        )
        self.pool = WarmPool(
            config.pool_size,
            config.pool_idle,
            seed,
            self.scheduler,
            self.workers.spawn,
            self._retire,
        )
        self.sessions = LiveSessions(config.session_idle, self._retire)
        # Processes whose answer ended at client tool calls, waiting for the results; a
        # dangling call (the client never answers) frees its process after `tool_wait` s.
        # Such a CLI never exits by itself (it is inside an MCP call): never retired politely.
        self.awaiting = LiveSessions(
            config.tool_wait, lambda worker, _: self._retire(worker, False)
        )
        # Parked conversations give way before warm processes: a warm one serves anybody.
        # A waiting tool call goes last: its conversation resumes faithfully elsewhere, but
        # it costs a cold start.
        self.scheduler.reclaimers += [
            self.sessions.reclaim,
            self.pool.reclaim,
            self.awaiting.reclaim,
        ]
        self.board = RateLimitBoard()
        self._busy = 0
        self._reapers: set[asyncio.Future[None]] = set()
        self._draining = False
        self._closed = False

    @property
    def active(self) -> int:
        """CLI processes answering a request right now."""
        return self._busy

    @property
    def queued(self) -> int:
        """Requests waiting for a CLI process (read by /metrics)."""
        return self.scheduler.waiting

    @property
    def pool_size(self) -> int:
        """Warm CLI processes ready in the pool (read by /metrics)."""
        return len(self.pool.pids())

    @property
    def retries(self) -> int:
        """Upstream failures the proxy retried (read by /metrics)."""
        return self.board.proxy_retries

    def gauges(self) -> EngineGauges:
        return {
            "active": self.active,
            "queued": self.queued,
            "pool_size": self.pool_size,
            "retries": self.retries,
        }

    def live_pids(self) -> list[int]:
        return [w.pid for w in self.workers.workers]

    async def start(self) -> None:
        self.config.runtime_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.guard.start()
        self.pool.start()

    def drain(self) -> None:
        """Shutdown has begun: warm and parked processes leave now, none are made anew."""
        if not self._draining:
            self._draining = True
            self.sessions.close()
            self.awaiting.close()
            self._track(self.pool.aclose())

    async def aclose(self) -> None:
        """Kill every child and wait until they are reaped."""
        self.drain()
        self._closed = True
        await self.pool.aclose()
        for worker in list(self.workers.workers):
            self._retire(worker, False)
        while self._reapers:
            await asyncio.gather(*list(self._reapers), return_exceptions=True)
        if self.workers.host is not None:
            await self.workers.host.aclose()
        self.guard.close()

    def _track(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._reapers.add(task)
        task.add_done_callback(self._reapers.discard)

    def _retire(self, worker: Worker, polite: bool) -> None:
        self._track(worker.retire(self.config.kill_grace, polite=polite))

    def _debug(self, msg: str, *args: object) -> None:
        if self.config.debug:
            log.info("[subprocess] " + msg, *args)

    def health(self) -> BridgeHealth:
        """The `queue`, `pool` and `rate_limits` sections of /health."""
        return {
            "queue": {"active": self._busy, **self.scheduler.stats()},
            "pool": {**self.pool.stats(), "sessions": self.sessions.stats()},
            "rate_limits": self.board.snapshot(),
            "tools": self.tool_health(),
        }

    def tool_health(self) -> ToolHealth:
        host = self.workers.host
        stats = host.stats() if host is not None else {"sessions": 0, "pending_calls": 0}
        return {**stats, "waiting": self.awaiting.stats()}

    def start_turn(self, request: CliRequest) -> Turn:
        """Start one turn in the background; read it with `Turn.next`."""
        if request.output_schema is not None:
            schema = json.loads(request.output_schema)
            return Turn(checked_events(lambda: self.events(request), schema))
        return Turn(self.events(request))

    async def events(self, request: CliRequest) -> AsyncGenerator[CliEvent, None]:
        """Run one turn; yields events up to and including the successful `Result`, or the
        `ToolCallsPending` an answer of client tool calls ends with (the process then waits).

        Raises a ProxyError for every failure (queue full, CLI missing or crashed, upstream
        error after retries, timeout). Use with `contextlib.aclosing` so an abandoned
        consumer kills the process at once.
        """
        cfg = self.config
        deadline = time.monotonic() + cfg.request_timeout
        key = request.key
        self.pool.note(key)
        watch = self.observer.watch_turn(request.cli_model) if self.observer else None
        retries, stale, streamed, reuse = 0, 0, False, True
        while True:
            attempt = self._attempt(request, key, deadline, watch, reuse=reuse, warm=stale == 0)
            try:
                async with contextlib.aclosing(attempt) as stream:
                    async for event in stream:
                        streamed = streamed or _is_content(event)
                        yield event
                return
            except _StaleWorker:
                stale += 1
                reuse = False
                if stale > 1:
                    raise CliFailed("The Claude CLI exited before answering, twice") from None
            except ProxyError as error:
                left = deadline - time.monotonic()
                delay = retry_delay(cfg.retry, error, retries, streamed=streamed, remaining=left)
                self.board.record_error(error, retried=delay is not None)
                if delay is None:
                    raise
                log.info(
                    "upstream %s; retry %d in %.1f s", error.upstream_status, retries + 1, delay
                )
                await asyncio.sleep(delay)
                retries += 1
                reuse = False

    async def _worker_for(
        self, request: CliRequest, key: ProcessKey, deadline: float, *, reuse: bool, warm: bool
    ) -> tuple[Worker, bool]:
        """(worker, whether it was reused): live, warm (first turns only), or a cold start."""
        if self._closed:
            raise ProxyError("The proxy is shutting down", status=503, code="shutting_down")
        if reuse and continues(request.history):
            worker = waiting_for(request, key, self.awaiting, self._retire)
            if worker is not None:
                return worker, True
            # The process parked under the client's conversation id first, then one that
            # holds the same turns without an id (a conversation that began without one).
            for conv in dict.fromkeys((request.conversation_id, None)):
                digest = conversation_digest(key, request.history, request.owner, conv)
                worker = self.sessions.take(digest)
                if worker is not None:
                    self._debug("pid=%s continues its conversation", worker.pid)
                    return worker, True
        worker = self.pool.take(key) if warm and not request.history else None
        if worker is not None:
            self._debug("pid=%s taken warm from the pool", worker.pid)
            return worker, True
        await self.scheduler.acquire(deadline - time.monotonic())
        return await self.workers.spawn(key, history=resumed_history(request)), False

    async def _attempt(
        self,
        request: CliRequest,
        key: ProcessKey,
        deadline: float,
        watch: Callable[[CliEvent], None] | None,
        *,
        reuse: bool,
        warm: bool,
    ) -> AsyncGenerator[CliEvent, None]:
        worker, reused = await self._worker_for(request, key, deadline, reuse=reuse, warm=warm)
        self._busy += 1
        finished = keep = got_output = False
        reply = ReplyText()
        calls, tally = ToolRound(key.tools), UsageTally()
        continued = bool(worker.open_calls)  # its CLI turn began with an earlier answer
        retry_after: float | None = None
        try:
            if continued:
                answer_calls(worker, request.prompt)
            # A CLI that has died already is reported by its exit code and stderr (below).
            elif not await send_turn(worker, request, deadline) and reused:
                raise _StaleWorker
            while line := await self._next_line(worker, deadline):
                # The CLI has loaded its history once it prints a line of its own (the answer to
                # an `initialize` control request comes first and proves nothing): off the disk.
                if not got_output and b'"control_response"' not in line[:64]:
                    worker.drop_transcript()
                    got_output = True
                try:
                    event = event_from_line(line)
                except MalformedLine as exc:
                    log.warning("CLI pid %s printed a malformed line (%s)", worker.pid, exc)
                    continue
                self._debug("pid=%s event %s", worker.pid, type(event).__name__)
                tally.feed(event)
                if isinstance(event, Result) and continued:
                    # The CLI counts its whole turn; this answer is only the part after the
                    # client's tool results (the part before was counted with its calls).
                    event = replace(event, usage=tally.usage)
                self.board.observe(event)
                if watch is not None:
                    watch(event)
                reply.feed(event)
                calls.feed(event)
                if isinstance(event, ApiRetry) and event.retry_delay_ms is not None:
                    retry_after = event.retry_delay_ms / 1000
                if calls.stops(event):
                    yield event
                    keep = True
                    open_calls(worker, calls)
                    pending = ToolCallsPending(calls.surfaced(), tally.usage)
                    if watch is not None:
                        watch(pending)
                    yield pending
                    return
                if isinstance(event, Result):
                    finished = True
                    error = error_from_result(event, retry_after=retry_after)
                    if error is not None:
                        self._debug("pid=%s result error %s", worker.pid, error.message)
                        raise error
                    keep = True
                    worker.turns += 1
                    yield event
                    return
                yield event
            code = await worker.proc.wait()
            if reused and not got_output:
                raise _StaleWorker
            self._debug("pid=%s exited %s without a result", worker.pid, code)
            detail = worker.proc.stderr_tail or "no output"
            raise CliFailed(f"The Claude CLI exited with code {code} before answering: {detail}")
        finally:
            self._busy -= 1
            worker.drop_transcript()  # and what the CLI added there (`memory/`)
            if not (keep and self._park(worker, request, key, reply.text, calls)):
                worker.open_calls = ()
                self._retire(worker, finished)

    def _park(
        self, worker: Worker, request: CliRequest, key: ProcessKey, reply: str, calls: ToolRound
    ) -> bool:
        """Keep a process that answered for its conversation's next turn, if enabled; one
        whose answer ended at tool calls waits for their results (`awaiting`)."""
        if self._draining or not request.continuable:
            return False
        held = held_turns(request.history, request.prompt, reply)
        if worker.open_calls:
            held = (*held[:-1], {"role": "assistant", "content": calls.held_blocks(reply)})
            digest = conversation_digest(key, held, request.owner, request.conversation_id)
            return self.awaiting.park(worker, digest)
        if not self.sessions.enabled or key.output_schema is not None:
            return False  # a schema: its next request may not want the same one
        digest = conversation_digest(key, held, request.owner, request.conversation_id)
        return self.sessions.park(worker, digest)

    async def _next_line(self, worker: Worker, deadline: float) -> bytes:
        remaining = deadline - time.monotonic()
        stall = self.config.stall_timeout
        wait = min(remaining, stall) if stall > 0 else remaining
        try:
            async with asyncio.timeout(max(wait, 0.001)):
                return await worker.readline()
        except TimeoutError:
            if time.monotonic() >= deadline:
                raise Timeout(
                    f"The Claude CLI did not finish within {self.config.request_timeout:g} s"
                ) from None
            raise Timeout(f"The Claude CLI printed nothing for {stall:g} s (stalled)") from None
