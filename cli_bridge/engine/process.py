"""One CLI child process: spawn without a shell, line-read stdout, and kill its whole group.

Killing is synchronous to start (SIGTERM now, SIGKILL after a grace period on a background
task), so a cancelled request can never leave the child running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

from ..cli_version import INSTALL_HINT
from ..errors import CliNotFound

log = logging.getLogger("cli_bridge.process")

STDOUT_LIMIT = 64 * 1024 * 1024  # one stream-json line can carry a large tool result or image
STDERR_TAIL = 8192
SECRET_PATH = re.compile(r"/mcp/[A-Za-z0-9_-]+")  # cli_bridge/tools/host.py URLs


class CliProcess:
    """A running `claude` child in its own process group."""

    def __init__(self, proc: asyncio.subprocess.Process, argv: Sequence[str]) -> None:
        self._proc = proc
        self.argv = list(argv)
        self.pid = proc.pid
        self._stderr = bytearray()
        self._stderr_task = asyncio.create_task(self._drain_stderr())
        self._reaper: asyncio.Task[None] | None = None

    @classmethod
    async def spawn(cls, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path) -> CliProcess:
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=dict(env),
                cwd=str(cwd),
                start_new_session=True,  # own process group: we kill it whole
                limit=STDOUT_LIMIT,
            )
        except (FileNotFoundError, PermissionError, NotADirectoryError) as exc:
            raise CliNotFound(
                f"The Claude Code CLI was not found or is not executable ({argv[0]}: "
                f"{exc.strerror or exc}). {INSTALL_HINT}"
            ) from None
        return cls(proc, argv)

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode

    @property
    def stderr_tail(self) -> str:
        """The end of its stderr (it reaches clients in error messages): an MCP session's
        secret URL the CLI may print is masked."""
        text = self._stderr.decode("utf-8", "replace").strip()
        return SECRET_PATH.sub("/mcp/<secret>", text)

    async def _drain_stderr(self) -> None:
        stream = self._proc.stderr
        assert stream is not None
        while chunk := await stream.read(4096):
            self._stderr += chunk
            del self._stderr[:-STDERR_TAIL]

    async def write(self, data: bytes) -> bool:
        """Send to stdin; False when the CLI has already gone. Its exit code and stderr (read
        next) say why, not the write: uvloop raises RuntimeError on the closed pipe."""
        stdin = self._proc.stdin
        assert stdin is not None
        try:
            stdin.write(data)
            await stdin.drain()
        except (BrokenPipeError, ConnectionResetError, RuntimeError) as exc:
            log.debug("CLI pid %s did not take its input: %r", self.pid, exc)
            return False
        return True

    def close_stdin(self) -> None:
        stdin = self._proc.stdin
        if stdin is not None and not stdin.is_closing():
            stdin.close()

    async def readline(self) -> bytes:
        """The next non-blank stdout line; b"" at EOF. Safe to cancel (nothing is lost)."""
        stdout = self._proc.stdout
        assert stdout is not None
        while line := await stdout.readline():
            if line.strip():
                return line
        return b""

    async def lines(self) -> AsyncIterator[bytes]:
        """stdout lines until EOF (blank lines skipped)."""
        stdout = self._proc.stdout
        assert stdout is not None
        while line := await stdout.readline():
            if line.strip():
                yield line

    async def wait(self) -> int:
        code = await self._proc.wait()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(self._stderr_task), 1.0)
        return code

    def _signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    def kill(self, grace: float, *, polite: bool = False) -> asyncio.Task[None]:
        """Stop the child without awaiting: returns the already scheduled reaper task.

        Impolite (a cancelled request): SIGTERM the group now, SIGKILL after `grace`.
        Polite (the turn is over): close stdin and give the CLI `grace` to exit by itself first.
        """
        if self._reaper is None:
            self.close_stdin()
            if not polite:
                self._signal_group(signal.SIGTERM)
            self._reaper = asyncio.get_running_loop().create_task(self._reap(grace, polite))
        return self._reaper

    async def _reap(self, grace: float, polite: bool) -> None:
        if polite and not await self._exited_within(grace):
            self._signal_group(signal.SIGTERM)
        if not await self._exited_within(grace):
            log.warning("CLI pid %s ignored SIGTERM for %.1fs; sending SIGKILL", self.pid, grace)
        # Whatever the leader did, no member of its group may outlive the request.
        self._signal_group(signal.SIGKILL)
        await self._proc.wait()
        self._stderr_task.cancel()

    async def _exited_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(asyncio.shield(self._proc.wait()), seconds)
        except TimeoutError:
            return False
        return True
