"""The ASGI app: connexion routes and validates from openapi.yaml; errors are rendered in the
envelope of the surface the path belongs to (errors.py)."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import connexion
from connexion.exceptions import BadRequestProblem, ProblemException, Unauthorized
from starlette.exceptions import HTTPException

from cli_bridge import Catalogue, ClaudeBridge, ProxyError
from cli_bridge.cli_version import INSTALL_HINT
from cli_bridge.protocol.environment import child_env

from . import api, errors, middleware, security
from .config.settings import Settings
from .dashboard.login import LoginCheck
from .metrics import Metrics
from .middleware import swagger_ui
from .state import AppState, probe_cli
from .store import ResponseStore
from .validation import VALIDATOR_MAP
from .version import VERSION

log = logging.getLogger("claude_max_api")

HERE = Path(__file__).resolve().parent


def spec_path() -> Path:
    """openapi.yaml: shipped inside the wheel, or at the top of a source checkout."""
    for candidate in (HERE / "openapi.yaml", HERE.parent / "openapi.yaml"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("openapi.yaml not found next to the handlers package")


def create_app(
    settings: Settings, on_ready: Callable[[AppState], None] | None = None
) -> connexion.AsyncApp:
    """The app; `on_ready` gets the running state (main.py uses it to drain on SIGTERM)."""
    catalogue = Catalogue(settings.models)
    metrics = Metrics(VERSION)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[dict[str, Any]]:
        bridge = ClaudeBridge(settings.bridge_config(), observer=metrics)
        await bridge.start()
        cli = await probe_cli(settings.claude_bin)
        if not cli.found:
            log.warning(
                "Claude CLI %r not found: chat requests get 503. %s",
                settings.claude_bin,
                INSTALL_HINT,
            )
        store = ResponseStore(
            settings.store_path,
            ttl=settings.store_ttl,
            max_responses=settings.store_max_responses,
            max_bytes=settings.store_max_mb * 1024 * 1024,
        )
        await store.open()
        login = LoginCheck(cli.path if cli.found else None, child_env(os.environ, settings.cli_env))
        state = AppState(settings, catalogue, bridge, cli, store, login)
        if on_ready is not None:
            on_ready(state)
        try:
            yield {"proxy": state, "metrics": metrics}
        finally:
            await login.aclose()
            await store.aclose()
            await bridge.aclose()
            shutil.rmtree(settings.runtime_dir, ignore_errors=True)

    app = connexion.AsyncApp(
        __name__,
        lifespan=lifespan,
        validator_map=VALIDATOR_MAP,
        middlewares=swagger_ui.middlewares(),
    )
    app.add_api(
        spec_path(),
        resolver=api.resolver,
        swagger_ui_options=connexion.options.SwaggerUIOptions(swagger_ui=True),
    )
    app.add_error_handler(ProxyError, errors.on_proxy_error)
    app.add_error_handler(BadRequestProblem, errors.on_bad_request)
    app.add_error_handler(Unauthorized, errors.on_unauthorized)
    app.add_error_handler(ProblemException, errors.on_problem)
    app.add_error_handler(HTTPException, errors.on_http_exception)
    for status in (404, 405):
        app.add_error_handler(status, errors.on_http_exception)
    app.add_error_handler(Exception, errors.on_unhandled)
    middleware.install(app, settings, metrics)
    for warning in security.startup_warnings(settings):
        log.warning("%s", warning)
    return app
