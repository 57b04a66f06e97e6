"""GET /health: is the proxy up, and can it reach a working CLI?"""

from __future__ import annotations

from typing import Any

from .. import security, state
from ..version import VERSION


async def get_health() -> dict[str, Any]:
    app = state.current()
    cli = app.cli
    body = {
        "status": "ok" if cli.found else "degraded",
        "version": VERSION,
        "cli": {"found": cli.found, "path": cli.path, "version": cli.version},
        **app.bridge.health(),  # queue, pool, rate_limits
    }
    return security.health_for_caller(body)
