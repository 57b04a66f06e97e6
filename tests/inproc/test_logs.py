"""Access logs: one line per request with its id; never a key; prompts only with --debug.
In-process, with the replay CLI answering the chats."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest

from handlers import logs
from handlers.config.settings import Settings
from tests.inproc.conftest import InProcessProxy, in_process

KEY = "sk-proxy-logtest-0123456789"


@pytest.fixture(scope="module")
def keyed(app_settings: Settings) -> Iterator[InProcessProxy]:
    with in_process(replace(app_settings, api_keys=(KEY,))) as running:
        yield running


@pytest.fixture(scope="module")
def debugging(app_settings: Settings) -> Iterator[InProcessProxy]:
    with in_process(replace(app_settings, debug=True)) as running:
        yield running


def chat(
    running: InProcessProxy, contract, marker: str, headers: dict | None = None
) -> httpx.Response:
    r = running.client.post(
        "/v1/chat/completions",
        json={
            "model": "opus",
            "messages": [{"role": "user", "content": f"secret prompt {marker}"}],
        },
        headers=headers or {},
    )
    contract.check(r)
    return r


SERVER_LOGGERS = ("claude_max_api", "cli_bridge", "uvicorn", "connexion", "starlette")


def everything_logged(caplog) -> str:
    """What the server side logged (the test's own httpx client logs its headers at DEBUG)."""
    return "\n".join(
        f"{r.getMessage()} {r.__dict__}"
        for r in caplog.records
        if r.name.startswith(SERVER_LOGGERS)
    )


def test_access_log_has_the_request_id_and_no_secrets(keyed, contract, caplog, marker):
    caplog.set_level(logging.DEBUG)
    r = chat(keyed, contract, marker, {"Authorization": f"Bearer {KEY}", "X-Request-Id": "log-1"})
    assert r.status_code == 200
    refused = keyed.client.get("/v1/models", headers={"Authorization": f"Bearer {KEY}x"})
    assert refused.status_code == 401
    access = [r for r in caplog.records if r.name == "claude_max_api.access"]
    line = next(r for r in access if getattr(r, "request_id", None) == "log-1")
    assert (line.status, line.route, line.model) == (200, "create_chat_completion", "opus")
    assert '"POST /v1/chat/completions" 200' in line.getMessage()
    assert any(r.status == 401 for r in access)
    logged = everything_logged(caplog)
    assert KEY not in logged
    assert marker not in logged  # no prompt bodies without --debug


def test_debug_logs_the_prompt(debugging, contract, caplog, marker):
    caplog.set_level(logging.INFO)
    chat(debugging, contract, marker)
    assert marker in everything_logged(caplog)


def test_json_access_lines(client, contract):
    out = io.StringIO()
    handler = logs.make_handler("json", out)
    logger = logging.getLogger("claude_max_api.access")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        r = client.get("/v1/models/no-such-model", headers={"X-Request-Id": "json-1"})
        contract.check(r)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    line = next(x for x in lines if x["request_id"] == "json-1")
    assert line["status"] == 404
    assert line["route"] == "retrieve_model"
    assert line["path"] == "/v1/models/no-such-model"
    assert line["logger"] == "claude_max_api.access"
    assert isinstance(line["duration_ms"], float)
