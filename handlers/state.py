"""What the handlers share, built once by the app's lifespan and found on the request."""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass

from connexion import request

from cli_bridge import Catalogue, ClaudeBridge

from .config.settings import Settings
from .dashboard.login import LoginCheck
from .store import ResponseStore


@dataclass(frozen=True, slots=True)
class CliInfo:
    found: bool
    path: str | None
    version: str | None


@dataclass(slots=True)
class AppState:
    settings: Settings
    catalogue: Catalogue
    bridge: ClaudeBridge
    cli: CliInfo
    store: ResponseStore
    login: LoginCheck | None = None  # the CLI's login state, checked in the background


def current() -> AppState:
    """The AppState of the app serving this request (set by the lifespan)."""
    proxy = request.state.proxy
    if not isinstance(proxy, AppState):
        raise RuntimeError("the app's lifespan has not set up its state")
    return proxy


async def probe_cli(claude_bin: str) -> CliInfo:
    """Find the CLI and ask its version (`claude --version` takes ~20 ms)."""
    path = shutil.which(claude_bin)
    if path is None:
        return CliInfo(False, None, None)
    try:
        proc = await asyncio.create_subprocess_exec(
            path,
            "--version",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 15)
    except (OSError, TimeoutError):
        return CliInfo(False, path, None)
    version = out.decode(errors="replace").strip().split(" ")[0] or None
    return CliInfo(proc.returncode == 0, path, version)
