"""The dashboard without API keys: only for this machine's own browser.

Installed only when no keys are set (with keys, the page is open and static, and its data
needs a key like everything else). Then `/dashboard*` is answered only to a loopback client
and only for a same-origin request: no foreign `Origin` (a listed CORS origin included) and
no `Sec-Fetch-Site` other than `same-origin` or `none` (typed into the address bar), so a
page of another site can neither read nor embed it.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import DashboardNotAllowed, ErrorResponse
from ..security import is_loopback
from .origin import same_origin

PREFIX = "/dashboard"
FETCH_SITES_OK = frozenset({"same-origin", "none"})


def is_dashboard(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def refusal(scope: Scope, headers: Headers) -> str | None:
    """Why this dashboard request is refused without keys, or None."""
    client = scope.get("client")
    if client is None or not is_loopback(str(client[0])):
        return (
            "Without API keys the dashboard is served only to this machine (loopback). "
            "Start the proxy with --api-key to open it to others."
        )
    origin = headers.get("origin")
    if origin is not None and origin.strip().rstrip("/").lower() != same_origin(scope, headers):
        return "The dashboard answers only its own page (same origin)."
    site = headers.get("sec-fetch-site")
    if site is not None and site.lower() not in FETCH_SITES_OK:
        return "The dashboard answers only its own page (same origin)."
    return None


class DashboardGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_dashboard(scope["path"]):
            reason = refusal(scope, Headers(scope=scope))
            if reason is not None:
                await ErrorResponse(DashboardNotAllowed(reason))(scope, receive, send)
                return
        await self.app(scope, receive, send)
