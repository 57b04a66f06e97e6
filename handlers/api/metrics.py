"""GET /metrics: the Prometheus text of this app's registry."""

from __future__ import annotations

from connexion import request
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import Response

from .. import state
from ..metrics import Metrics


async def get_metrics() -> Response:
    """GET /metrics (operationId in openapi.yaml)."""
    metrics: Metrics = request.state.metrics
    body = metrics.render(state.current().bridge.gauges())
    return Response(body, media_type=CONTENT_TYPE_LATEST)
