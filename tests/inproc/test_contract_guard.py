"""The contract guard validates in-process responses too: starlette's TestClient (what this
tier uses) and httpx's ASGITransport, against a deliberately non-conforming ASGI app."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from tests.contract_guard import GUARD
from tests.inproc.conftest import InProcessProxy


async def _bad_models(_request: Request) -> JSONResponse:
    return JSONResponse({"object": "list", "data": "x"})  # `data` must be an array


BAD_APP = Starlette(routes=[Route("/v1/models", _bad_models)])


def test_a_non_conforming_test_client_response_is_caught():
    with TestClient(BAD_APP) as client, pytest.raises(Exception, match="data"):
        client.get("/v1/models")


async def test_a_non_conforming_asgi_transport_response_is_caught():
    transport = httpx.ASGITransport(app=BAD_APP)
    async with httpx.AsyncClient(transport=transport, base_url="http://bad.test") as client:
        with pytest.raises(Exception, match="data"):
            await client.get("/v1/models")


def test_every_in_process_proxy_response_is_validated(app: InProcessProxy):
    before = GUARD.validated
    assert app.client.get("/v1/models").status_code == 200
    with app.client.stream("GET", "/health") as r:
        r.read()
    assert GUARD.validated == before + 2
