"""GET /dashboard (the page), /dashboard/static/{asset} (its script and style) and
/dashboard/status (the numbers it polls). Who may see them: middleware/dashboard.py and the
API key guard (the page is static and open; its data needs a key when keys are set)."""

from __future__ import annotations

import time
from importlib import resources
from typing import Any

from connexion import request
from starlette.responses import Response

from .. import state
from ..dashboard.login import LoginState
from ..dashboard.status import build_status
from ..metrics import Metrics
from ..version import VERSION

ASSETS = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}
# Nothing but this proxy: no CDN, no fonts, no frames, no form posts elsewhere.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _static(name: str) -> bytes:
    return resources.files("handlers.dashboard").joinpath("static", name).read_bytes()


async def get_dashboard() -> Response:
    return Response(_static("index.html"), media_type="text/html; charset=utf-8", headers=HEADERS)


async def get_dashboard_asset(asset: str) -> Response:
    return Response(_static(asset), media_type=ASSETS[asset], headers=HEADERS)


async def get_dashboard_status() -> dict[str, Any]:
    app = state.current()
    metrics: Metrics = request.state.metrics
    login = app.login.current() if app.login is not None else LoginState("unknown")
    return build_status(
        history=metrics.history,
        now=time.time(),
        version=VERSION,
        cli=app.cli,
        login=login,
        health=app.bridge.health(),
        models=[entry.id for entry in app.catalogue.entries()],
        keys=bool(app.settings.api_keys),
    )
