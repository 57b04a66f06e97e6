"""`claude-max-api`: serve (the default), or an operator command (`doctor`,
`install-service`). A bare first argument that is a number is the legacy port.

Shutdown (SIGTERM/SIGINT): uvicorn stops accepting and lets in-flight requests finish for up
to --shutdown-timeout; meanwhile the bridge drains (warm and parked CLI processes leave at
once, no new ones start). Then the lifespan kills every remaining CLI process group. The
bridge's OrphanGuard covers the exits that skip the lifespan (see cli_bridge/engine/reaper.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import sys
from collections.abc import Callable, Sequence
from types import FrameType

import uvicorn

from . import logs, security
from .app import create_app
from .config.settings import Settings, settings_from_args
from .state import AppState


class Drain:
    """Remembers the running app state, so a shutdown signal can drain its bridge."""

    def __init__(self) -> None:
        self._state: AppState | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def attach(self, state: AppState) -> None:
        """create_app's on_ready hook: runs in the server's event loop."""
        self._state = state
        self._loop = asyncio.get_running_loop()

    def begin(self) -> None:
        """Safe from a signal handler: schedules the drain on the server's loop."""
        if self._state is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._state.bridge.drain)


class DrainingServer(uvicorn.Server):
    """uvicorn's server, which also drains the bridge when a shutdown signal arrives."""

    def __init__(self, config: uvicorn.Config, drain: Drain) -> None:
        super().__init__(config)
        self._drain = drain

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._drain.begin()


def serve(argv: Sequence[str]) -> int:
    settings = settings_from_args(argv)
    problems = security.refusals(settings)
    if problems:
        for problem in problems:
            print(f"claude-max-api: {problem}", file=sys.stderr)
        return 2
    logs.configure(settings.log_format, settings.log_level)
    run_server(settings)
    return 0


def run_server(settings: Settings) -> None:
    """Serve until SIGTERM/SIGINT, then shut down cleanly (see the module docstring)."""
    drain = Drain()
    config = uvicorn.Config(
        create_app(settings, on_ready=drain.attach),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=math.ceil(settings.shutdown_timeout),  # uvicorn: whole s
        access_log=False,  # ours (handlers/access.py) carries the request id
        log_config=None,  # keep the handlers set up by logs.configure
    )
    # The app, spec and validators are loaded: keep those long-lived objects out of every
    # future garbage collection, so full collections stay short while chunks stream.
    gc.freeze()
    print(f"Claude Max API Proxy on http://{settings.host}:{settings.port}", file=sys.stderr)
    # uvicorn re-raises a captured SIGINT once it has shut down.
    with contextlib.suppress(KeyboardInterrupt):
        DrainingServer(config, drain).run()


def _doctor(argv: Sequence[str]) -> int:
    from .commands.doctor import main as doctor_main

    return doctor_main(argv)


def _install_service(argv: Sequence[str]) -> int:
    from .commands.service import main as service_main

    return service_main(argv)


COMMANDS: dict[str, Callable[[Sequence[str]], int]] = {
    "serve": serve,
    "doctor": _doctor,
    "install-service": _install_service,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in COMMANDS:
        return COMMANDS[args[0]](args[1:])
    return serve(args)


if __name__ == "__main__":
    raise SystemExit(main())
