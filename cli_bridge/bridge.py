"""The bridge: one chat turn in, a stream of typed CLI events out.

It owns the CLI processes and the per-run directories: every run gets an empty working
directory and its own TMPDIR under the runtime dir, removed once the process is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .argv import build_argv
from .cli_to_openai import error_from_result
from .config import BridgeConfig
from .environment import child_env
from .errors import CliFailed, Timeout
from .events import ApiRetry, CliEvent, MalformedLine, Result, event_from_line
from .observer import TurnObserver
from .openai_to_cli import stdin_line_from_prompt
from .process import CliProcess
from .turn import Turn

log = logging.getLogger("cli_bridge")


@dataclass(frozen=True, slots=True)
class CliRequest:
    """What one CLI turn needs: all of it already checked and converted."""

    cli_model: str
    prompt: str
    system_prompt: str | None = None


class ClaudeBridge:
    def __init__(
        self,
        config: BridgeConfig,
        environ: Mapping[str, str] | None = None,
        observer: TurnObserver | None = None,
    ) -> None:
        self.config = config
        self.observer = observer
        self._environ = dict(os.environ if environ is None else environ)
        self._live: set[CliProcess] = set()
        self._reapers: set[asyncio.Task[None]] = set()

    @property
    def active(self) -> int:
        return len(self._live)

    def live_pids(self) -> list[int]:
        return [p.pid for p in self._live]

    async def start(self) -> None:
        self.config.runtime_dir.mkdir(parents=True, exist_ok=True, mode=0o700)

    async def aclose(self) -> None:
        """Kill every child and wait until they are reaped."""
        for proc in list(self._live):
            self._track(proc.kill(self.config.kill_grace))
        if self._reapers:
            await asyncio.gather(*self._reapers, return_exceptions=True)

    def _track(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._reapers.add(task)
        task.add_done_callback(self._reapers.discard)

    def _debug(self, msg: str, *args: object) -> None:
        if self.config.debug:
            log.info("[subprocess] " + msg, *args)

    def _make_run_dir(self, request: CliRequest) -> tuple[Path, Path, Path | None]:
        run_dir = self.config.runtime_dir / f"run-{uuid.uuid4().hex[:12]}"
        work = run_dir / "work"
        (run_dir / "tmp").mkdir(parents=True, mode=0o700)
        work.mkdir(mode=0o700)
        system_file = None
        if request.system_prompt is not None:
            system_file = run_dir / "system-prompt.txt"
            system_file.write_text(request.system_prompt, encoding="utf-8")
        return run_dir, self.config.workdir or work, system_file

    def start_turn(self, request: CliRequest) -> Turn:
        """Start one turn in the background; read it with `Turn.next`."""
        return Turn(self.events(request))

    async def events(self, request: CliRequest) -> AsyncIterator[CliEvent]:
        """Run one turn; yields events up to and including the successful `Result`.

        Raises a ProxyError for every failure (CLI missing or crashed, upstream error, timeout).
        Use with `contextlib.aclosing` so an abandoned consumer kills the process at once.
        """
        cfg = self.config
        deadline = time.monotonic() + cfg.request_timeout
        run_dir, cwd, system_file = self._make_run_dir(request)
        argv = build_argv(
            cfg.claude_bin, request.cli_model, tools=cfg.tools, system_prompt_file=system_file
        )
        env = child_env(self._environ, cfg.extra_env, tmpdir=str(run_dir / "tmp"))
        proc: CliProcess | None = None
        finished = False
        watch = self.observer.watch_turn(request.cli_model) if self.observer else None
        try:
            proc = await CliProcess.spawn(argv, env=env, cwd=cwd)
            self._live.add(proc)
            self._debug("spawned pid=%s argv=%s", proc.pid, argv)
            await proc.write(stdin_line_from_prompt(request.prompt))
            retry_after: float | None = None
            lines = proc.lines()
            while True:
                line = await self._next_line(lines, deadline)
                if line is None:
                    break
                try:
                    event = event_from_line(line)
                except MalformedLine as exc:
                    log.warning("CLI pid %s printed a malformed line (%s)", proc.pid, exc)
                    continue
                self._debug("pid=%s event %s", proc.pid, type(event).__name__)
                if watch is not None:
                    watch(event)
                if isinstance(event, ApiRetry) and event.retry_delay_ms is not None:
                    retry_after = event.retry_delay_ms / 1000
                if isinstance(event, Result):
                    finished = True
                    error = error_from_result(event, retry_after=retry_after)
                    if error is not None:
                        self._debug("pid=%s result error %s", proc.pid, error.message)
                        raise error
                    yield event
                    return
                yield event
            code = await proc.wait()
            self._debug("pid=%s exited %s without a result", proc.pid, code)
            detail = proc.stderr_tail or "no output"
            raise CliFailed(f"The Claude CLI exited with code {code} before answering: {detail}")
        finally:
            if proc is not None:
                self._track(self._retire(proc, run_dir, polite=finished))
            else:
                shutil.rmtree(run_dir, ignore_errors=True)

    async def _next_line(self, lines: AsyncIterator[bytes], deadline: float) -> bytes | None:
        remaining = deadline - time.monotonic()
        stall = self.config.stall_timeout
        wait = min(remaining, stall) if stall > 0 else remaining
        try:
            return await asyncio.wait_for(anext(lines), max(wait, 0.001))
        except StopAsyncIteration:
            return None
        except TimeoutError:
            if time.monotonic() >= deadline:
                raise Timeout(
                    f"The Claude CLI did not finish within {self.config.request_timeout:g} s"
                ) from None
            raise Timeout(f"The Claude CLI printed nothing for {stall:g} s (stalled)") from None

    async def _retire(self, proc: CliProcess, run_dir: Path, polite: bool) -> None:
        try:
            await proc.kill(self.config.kill_grace, polite=polite)
            self._debug("pid=%s exit code %s", proc.pid, proc.returncode)
        finally:
            self._live.discard(proc)
            await asyncio.to_thread(shutil.rmtree, run_dir, True)


@contextlib.asynccontextmanager
async def running_bridge(config: BridgeConfig) -> AsyncIterator[ClaudeBridge]:
    bridge = ClaudeBridge(config)
    await bridge.start()
    try:
        yield bridge
    finally:
        await bridge.aclose()
