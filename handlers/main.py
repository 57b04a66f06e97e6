"""`claude-max-api`: serve (the default), or an operator command (`doctor`,
`install-service`). A bare first argument that is a number is the legacy port."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

import uvicorn

from . import logs, security
from .app import create_app
from .settings import settings_from_args


def serve(argv: Sequence[str]) -> int:
    settings = settings_from_args(argv)
    problems = security.refusals(settings)
    if problems:
        for problem in problems:
            print(f"claude-max-api: {problem}", file=sys.stderr)
        return 2
    logs.configure(settings.log_format, settings.log_level)
    app = create_app(settings)
    print(f"Claude Max API Proxy on http://{settings.host}:{settings.port}", file=sys.stderr)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=30,
        access_log=False,  # ours (handlers/access.py) carries the request id
        log_config=None,  # keep the handlers set up by logs.configure
    )
    return 0


def _doctor(argv: Sequence[str]) -> int:
    from .doctor import main as doctor_main

    return doctor_main(argv)


def _install_service(argv: Sequence[str]) -> int:
    from .service import main as service_main

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
