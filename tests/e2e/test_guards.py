"""Guards over a real socket, where uvicorn (not a test client) parses the request: a chunked
body over the cap, a foreign Host, a missing key. Every guard and its envelope is tested
in-process in tests/inproc/test_guards.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest

from handlers.config.settings import Settings
from tests.conftest import RunningProxy, serve
from tests.e2e.guards_util import assert_no_cli, chat_body, refused

KEY = "sk-proxy-test-0123456789"
BODY_CAP = 64 * 1024


@pytest.fixture(scope="module")
def guarded(base_settings: Settings) -> Iterator[RunningProxy]:
    settings = replace(
        base_settings,
        api_keys=(KEY,),
        max_body_bytes=BODY_CAP,
    )
    with serve(settings) as running:
        yield running


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as c:
        yield c


AUTH = {"Authorization": f"Bearer {KEY}"}


def test_evil_host_is_refused_over_the_wire(proxy, client, contract, upstream, marker):
    r = client.post(
        f"{proxy.v1}/chat/completions", json=chat_body(marker), headers={"Host": "evil.example"}
    )
    refused(contract, r, 400, "invalid_host")
    assert_no_cli(upstream, marker)


def test_the_key_is_checked_over_the_wire(guarded, client, contract):
    refused(contract, client.get(f"{guarded.v1}/models"), 401, "invalid_api_key")
    ok = client.get(f"{guarded.v1}/models", headers=AUTH)
    assert ok.status_code == 200
    contract.check(ok)


def test_oversized_chunked_body_is_413(guarded, client, contract, upstream, marker):
    head = json.dumps(chat_body(marker))[:-1].encode()

    def chunks() -> Iterator[bytes]:  # no Content-Length: Transfer-Encoding: chunked
        yield head + b', "pad": "'
        for _ in range(BODY_CAP // 4096 + 2):
            yield b"y" * 4096
        yield b'"}'

    r = client.post(
        f"{guarded.v1}/chat/completions",
        content=chunks(),
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert r.request.headers["transfer-encoding"] == "chunked"
    # the contract re-reads the request body, which a generator cannot give twice
    sent = httpx.Request("POST", r.request.url, headers=r.request.headers, content=b"{}")
    refused(
        contract,
        httpx.Response(r.status_code, headers=r.headers, content=r.content, request=sent),
        413,
        "request_too_large",
    )
    assert_no_cli(upstream, marker)
