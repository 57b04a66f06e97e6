"""No CLI process outlives the proxy, whatever the exit path.

Normal shutdown kills every child from the app's lifespan. Two safety nets cover the rest:
- `atexit`: a synchronous SIGKILL of every registered process group (an exception escaping
  the event loop, a second Ctrl-C that skips the lifespan);
- a sentinel process: a tiny Python child in its own session that is told each CLI process
  group as it starts and ends, and kills whatever is left when its stdin reaches EOF, i.e.
  when the proxy is gone, even by SIGKILL or a crash. It ignores SIGINT/SIGTERM so that a
  signal sent to every process of a service cannot take it down before the proxy.

This file is also the sentinel's program (`python reaper.py`), so it imports only the stdlib.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time

log = logging.getLogger("cli_bridge.reaper")


def _kill_groups(groups: set[int], sig: int) -> None:
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)


class OrphanGuard:
    """Tracks the process groups of live CLI children and guarantees they die with us."""

    def __init__(self, sentinel: bool = True) -> None:
        self._groups: set[int] = set()
        self._use_sentinel = sentinel
        self._sentinel: subprocess.Popen[bytes] | None = None

    @property
    def sentinel_pid(self) -> int | None:
        return self._sentinel.pid if self._sentinel is not None else None

    def start(self) -> None:
        atexit.register(self.kill_all)
        if not self._use_sentinel:
            return
        try:
            self._sentinel = subprocess.Popen(
                [sys.executable, "-I", "-S", os.path.abspath(__file__)],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:  # the lifespan and atexit still kill children
            log.warning("could not start the orphan sentinel: %s", exc)

    def _tell(self, line: str) -> None:
        sentinel = self._sentinel
        if sentinel is None or sentinel.stdin is None:
            return
        try:
            sentinel.stdin.write(line.encode())
            sentinel.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            log.warning("the orphan sentinel is gone; relying on the lifespan and atexit")
            self._sentinel = None

    def add(self, pgid: int) -> None:
        self._groups.add(pgid)
        self._tell(f"+{pgid}\n")

    def discard(self, pgid: int) -> None:
        self._groups.discard(pgid)
        self._tell(f"-{pgid}\n")

    def kill_all(self) -> None:
        """SIGKILL every group still registered (synchronous; safe at interpreter exit)."""
        _kill_groups(self._groups, signal.SIGKILL)
        self._groups.clear()

    def close(self) -> None:
        """Normal shutdown: nothing should be left; let the sentinel exit too."""
        self.kill_all()
        sentinel, self._sentinel = self._sentinel, None
        if sentinel is not None:
            with contextlib.suppress(OSError, ValueError):
                if sentinel.stdin is not None:
                    sentinel.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                sentinel.wait(5)
        atexit.unregister(self.kill_all)


def sentinel_main() -> None:
    """Read +PGID / -PGID lines until EOF, then kill every group still listed."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    groups: set[int] = set()
    for raw in sys.stdin.buffer:
        line = raw.strip()
        if len(line) < 2 or not line[1:].isdigit():
            continue
        pgid = int(line[1:])
        if line[:1] == b"+":
            groups.add(pgid)
        elif line[:1] == b"-":
            groups.discard(pgid)
    if groups:
        _kill_groups(groups, signal.SIGTERM)
        time.sleep(0.5)
        _kill_groups(groups, signal.SIGKILL)


if __name__ == "__main__":
    sentinel_main()
