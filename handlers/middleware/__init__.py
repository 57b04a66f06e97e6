"""ASGI middleware in front of connexion, one concern per module, each refusing in the error
envelope of the surface the request is for (handlers/errors.py).

Order (outermost first): access log + request id, Host allow-list (DNS rebinding), Origin
allow-list (cross-site browser requests), CORS (only when origins are configured), API key,
the dashboard's loopback/same-origin rule (only without keys), body size and type. A refused
request never reaches routing, validation or the CLI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from connexion import AsyncApp
from connexion.middleware import MiddlewarePosition
from starlette.middleware.cors import CORSMiddleware

from ..security import allowed_hosts
from .access import AccessMiddleware
from .api_key import ApiKeyGuard
from .body import BodyGuard
from .dashboard import DashboardGuard
from .host import HostGuard
from .origin import OriginGuard

if TYPE_CHECKING:
    from ..config.settings import Settings
    from ..metrics import Metrics


def install(app: AsyncApp, settings: Settings, metrics: Metrics) -> None:
    """Put the guards in front of connexion's error handling, in the order above."""
    at = MiddlewarePosition.BEFORE_EXCEPTION
    app.add_middleware(AccessMiddleware, position=at, metrics=metrics)
    app.add_middleware(HostGuard, position=at, allowed_hosts=allowed_hosts(settings))
    app.add_middleware(OriginGuard, position=at, origins=settings.cors_origins)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            position=at,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["*"],
            expose_headers=["X-Request-Id", "Retry-After"],
        )
    app.add_middleware(ApiKeyGuard, position=at, keys=settings.api_keys)
    if not settings.api_keys:
        app.add_middleware(DashboardGuard, position=at)
    app.add_middleware(
        BodyGuard, position=at, max_bytes=settings.max_body_bytes, debug=settings.debug
    )
