"""A worker: one CLI process with its private run directory and its concurrency slot.

Whoever holds a worker (a request, the warm pool, a parked conversation) holds the slot; the
slot goes back to the scheduler only once the process is reaped and its directory removed,
so the process count never exceeds the cap. Every worker's process group is registered with
the OrphanGuard from spawn to reap.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import CliFailed
from ..protocol.argv import build_argv
from ..protocol.blocks import CliMessage, UserContent
from ..protocol.client_tools import SERVER_NAME, ToolCall
from ..protocol.environment import child_env
from ..protocol.stdin import initialize_line, user_line
from .config import BridgeConfig
from .history import ProcessKey
from .process import CliProcess
from .reaper import OrphanGuard
from .resume import ResumeFile, write_transcript
from .scheduler import Scheduler

if TYPE_CHECKING:
    from ..tools.host import ToolHost
    from ..tools.session import ToolSession

log = logging.getLogger("cli_bridge.worker")


class Worker:
    def __init__(
        self,
        proc: CliProcess,
        run_dir: Path,
        key: ProcessKey,
        on_gone: Callable[[Worker], None],
        trace: Callable[[str, int, bytes | None], None] | None = None,
    ) -> None:
        self.proc = proc
        self.pid = proc.pid
        self.run_dir = run_dir
        self.key = key
        self.born = time.monotonic()
        self.idle_since = self.born
        self.turns = 0  # turns answered so far (a parked worker has >= 1)
        self._on_gone = on_gone
        self._trace = trace
        self._retiring: asyncio.Task[None] | None = None
        self.resumed: ResumeFile | None = None  # the transcript it was started with, if any
        self.tools: ToolSession | None = None  # its MCP session, when it offers client tools
        # Client tool calls its last answer ended with: the process waits for their results.
        self.open_calls: tuple[ToolCall, ...] = ()

    @property
    def alive(self) -> bool:
        return self._retiring is None and self.proc.returncode is None

    @property
    def retiring(self) -> bool:
        return self._retiring is not None

    async def send(self, content: UserContent) -> bool:
        """Write one user turn to the CLI's stream-json stdin; False if it has gone."""
        sent = await self.proc.write(user_line(content))
        if self._trace is not None:
            self._trace("write", self.pid, None)
        return sent

    def note(self, what: str) -> None:
        """Tell the tracer (benchmarks, tests) what happened to this process."""
        if self._trace is not None:
            self._trace(what, self.pid, None)

    async def readline(self) -> bytes:
        line = await self.proc.readline()
        if self._trace is not None and line:
            self._trace("line", self.pid, line)
        return line

    def drop_transcript(self) -> None:
        """Remove the transcript this process resumed, and what the CLI put beside it. It has
        loaded the history before it prints anything: a live process keeps it in memory."""
        if self.resumed is not None:
            self.resumed.remove()

    def retire(self, grace: float, *, polite: bool) -> asyncio.Task[None]:
        """Stop the process (see CliProcess.kill), then free its directory and slot."""
        if self._retiring is None:
            kill = self.proc.kill(grace, polite=polite)
            self._retiring = asyncio.get_running_loop().create_task(self._finish(kill))
        return self._retiring

    async def _finish(self, kill: asyncio.Task[None]) -> None:
        try:
            await kill
        finally:
            if self.tools is not None:
                await self.tools.close()
            resumed, self.resumed = self.resumed, None
            if resumed is not None:
                await asyncio.to_thread(resumed.remove)
            await asyncio.to_thread(shutil.rmtree, self.run_dir, True)
            self._on_gone(self)


class WorkerFactory:
    """Spawns workers the same way for cold requests and for the warm pool."""

    def __init__(
        self,
        config: BridgeConfig,
        environ: Mapping[str, str],
        scheduler: Scheduler,
        guard: OrphanGuard,
    ) -> None:
        self.config = config
        # The MCP server for client tools, made on first use: `mcp` takes ~0.9 s to import.
        self.host: ToolHost | None = None
        self._environ = dict(environ)
        self._scheduler = scheduler
        self._guard = guard
        self.workers: set[Worker] = set()

    def _make_run_dir(self, key: ProcessKey) -> tuple[Path, Path, Path | None]:
        run_dir = self.config.runtime_dir / f"run-{uuid.uuid4().hex[:12]}"
        work = run_dir / "work"
        (run_dir / "tmp").mkdir(parents=True, mode=0o700)
        work.mkdir(mode=0o700)
        system_file = None
        if key.system_prompt is not None:
            system_file = run_dir / "system-prompt.txt"
            fd = os.open(system_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(key.system_prompt)
        return run_dir, self.config.workdir or work, system_file

    async def spawn(self, key: ProcessKey, *, history: Sequence[CliMessage] = ()) -> Worker:
        """Start a CLI process for `key`, resuming `history` when there is one (resume.py).
        The caller already holds a slot for it; on failure the slot is released here."""
        cfg = self.config
        try:
            run_dir, cwd, system_file = self._make_run_dir(key)
        except BaseException:
            self._scheduler.release()
            raise
        env = child_env(
            self._environ,
            cfg.extra_env,
            tmpdir=str(run_dir / "tmp"),
            max_output_tokens=key.max_output_tokens,
        )
        resumed: ResumeFile | None = None
        session: ToolSession | None = None
        try:
            if cfg.tracer is not None:
                cfg.tracer("spawn", 0, None)
            if history:
                try:
                    resumed = write_transcript(
                        history, env=env, cwd=cwd, model=key.cli_model, shared=bool(cfg.workdir)
                    )
                except OSError as exc:  # e.g. a read-only or full config dir
                    raise CliFailed(
                        f"Could not write the conversation for the Claude CLI: {exc}"
                    ) from None
            mcp_config = None
            if key.tools is not None:
                if self.host is None:
                    from ..tools.host import ToolHost

                    self.host = ToolHost()
                session = await self.host.open(key.tools)
                mcp_config = run_dir / "mcp.json"
                self.host.write_config(session, mcp_config)
            append = key.system_flag == "append"
            argv = build_argv(
                cfg.claude_bin,
                key.cli_model,
                tools=cfg.tools,
                system_prompt_file=None if append else system_file,
                append_system_prompt_file=system_file if append else None,
                resume=resumed.session_id if resumed is not None else None,
                effort=key.effort,
                mcp_config=mcp_config,
                allow_mcp_server=SERVER_NAME if key.tools and key.tools.permitted else None,
            )
            proc = await CliProcess.spawn(argv, env=env, cwd=cwd)
        except BaseException:
            if session is not None:
                await session.close()
            if resumed is not None:
                resumed.remove()
            shutil.rmtree(run_dir, ignore_errors=True)
            self._scheduler.release()
            raise
        self._guard.add(proc.pid)
        worker = Worker(proc, run_dir, key, self._gone, cfg.tracer)
        worker.resumed = resumed
        worker.tools = session
        self.workers.add(worker)
        if cfg.debug:
            log.info("[subprocess] spawned pid=%s argv=%s", proc.pid, argv)
        if key.output_schema is not None:  # on stdin, never argv; a dead CLI shows at send()
            try:
                await proc.write(initialize_line(json.loads(key.output_schema)))
            except BaseException:  # e.g. the request was cancelled while the pipe was full
                worker.retire(cfg.kill_grace, polite=False)
                raise
        return worker

    def _gone(self, worker: Worker) -> None:
        self._guard.discard(worker.pid)
        self.workers.discard(worker)
        if self.config.debug:
            log.info("[subprocess] pid=%s exit code %s", worker.pid, worker.proc.returncode)
        self._scheduler.release(worker, held_for=time.monotonic() - worker.born)
