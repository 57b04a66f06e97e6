"""Is the CLI logged in? `claude auth status --json`, run in the background at most every
`ttl` seconds (never per dashboard poll), its answer cached."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

LoginStateName = Literal["yes", "no", "unknown", "checking"]
TTL = 600.0
TIMEOUT = 15.0


@dataclass(frozen=True, slots=True)
class LoginState:
    state: LoginStateName
    detail: str | None = None
    checked_at: float | None = None


def parse_auth_status(returncode: int, stdout: str, stderr: str, now: float) -> LoginState:
    """What `claude auth status --json` said (pure; the same reading as `doctor`)."""
    try:
        info: Any = json.loads(stdout)
    except ValueError:
        info = None
    if not isinstance(info, dict) or "loggedIn" not in info:
        if returncode != 0 and "usage:" in (stderr + stdout).lower():
            return LoginState("unknown", "this CLI has no `auth status` (a stand-in?)", now)
        return LoginState("unknown", (stderr or stdout).strip()[:200] or "no answer", now)
    if not info.get("loggedIn"):
        return LoginState("no", "run `claude auth login` as the proxy's user", now)
    method = str(info.get("authMethod") or "")
    if method == "api_key":
        return LoginState("yes", "with an API key: billed per token, not the subscription", now)
    return LoginState("yes", method or None, now)


class LoginCheck:
    """The cached login state; `current()` starts a refresh when it is older than `ttl`."""

    def __init__(self, path: str | None, env: Mapping[str, str], ttl: float = TTL) -> None:
        self.path = path
        self.env = dict(env)
        self.ttl = ttl
        self._state = LoginState("checking") if path else LoginState("unknown", "no CLI")
        self._task: asyncio.Task[None] | None = None

    def current(self) -> LoginState:
        checked = self._state.checked_at
        stale = checked is None or time.time() - checked > self.ttl
        if self.path and stale and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._refresh(self.path))
        return self._state

    async def _refresh(self, path: str) -> None:
        try:
            self._state = await self._ask(path)
        except Exception as exc:  # never let the dashboard break on this
            self._state = LoginState("unknown", f"could not run `auth status`: {exc}", time.time())

    async def _ask(self, path: str) -> LoginState:
        with tempfile.TemporaryDirectory(prefix="claude-max-api-login-") as cwd:
            proc = await asyncio.create_subprocess_exec(
                path,
                "auth",
                "status",
                "--json",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=self.env,
                cwd=cwd,
                start_new_session=True,
            )
            try:
                out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
            except BaseException as exc:  # hung, or the app is shutting down: no leftovers
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await asyncio.shield(proc.wait())
                if not isinstance(exc, TimeoutError):
                    raise
                return LoginState("unknown", f"`auth status` hung for {TIMEOUT:g} s", time.time())
        code = proc.returncode or 0
        return parse_auth_status(
            code, out.decode(errors="replace"), err.decode(errors="replace"), time.time()
        )

    async def aclose(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
