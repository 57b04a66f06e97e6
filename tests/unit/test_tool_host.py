"""The proxy's MCP server for client tools (cli_bridge/tools), driven by the `mcp` package's
own client over real loopback HTTP: tools listed with their schemas, a call held open until
the client's result arrives, results that come before their call, sessions closed cleanly,
and strangers refused."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path

import httpx
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from cli_bridge.protocol.client_tools import ClientTool, ToolSet
from cli_bridge.tools.answers import GONE, ToolAnswer
from cli_bridge.tools.host import ToolHost
from cli_bridge.tools.session import TOOL_USE_ID_META

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
TOOLS = ToolSet(
    (ClientTool("get_weather", "Weather for a city", json.dumps(SCHEMA, sort_keys=True)),),
    instructions="Call one tool.",
)


def url_of(host: ToolHost, session) -> str:
    return json.loads(host.config_for(session))["mcpServers"]["client"]["url"]


async def call(url: str, tool_use_id: str, **args: str):
    async with (
        streamable_http_client(url) as (read, write, *_),
        ClientSession(read, write) as client,
    ):
        await client.initialize()
        return await client.call_tool("get_weather", args, meta={TOOL_USE_ID_META: tool_use_id})


@pytest.fixture
async def host():
    tool_host = ToolHost()
    yield tool_host
    await tool_host.aclose()


async def test_tools_are_listed_and_a_call_waits_for_the_client(host: ToolHost):
    session = await host.open(TOOLS)
    url = url_of(host, session)
    async with (
        streamable_http_client(url) as (read, write, *_),
        ClientSession(read, write) as client,
    ):
        init = await client.initialize()
        assert init.instructions == "Call one tool."
        listed = await client.list_tools()
        assert session.ready.is_set()
        assert [(t.name, t.input_schema) for t in listed.tools] == [("get_weather", SCHEMA)]
        pending = asyncio.create_task(
            client.call_tool("get_weather", {"city": "Paris"}, meta={TOOL_USE_ID_META: "t1"})
        )
        for _ in range(200):
            if session.pending:
                break
            await asyncio.sleep(0.01)
        assert host.stats() == {"sessions": 1, "pending_calls": 1}
        assert not pending.done()
        session.answer("t1", ToolAnswer("sunny 21C"))
        result = await asyncio.wait_for(pending, 5)
    assert [c.text for c in result.content] == ["sunny 21C"]  # plain text, not {"result": ...}
    assert result.is_error is False
    assert host.stats()["pending_calls"] == 0


async def test_a_result_that_arrives_first_answers_its_call_at_once(host: ToolHost):
    session = await host.open(TOOLS)
    session.answer("t2", ToolAnswer("no such city", is_error=True))
    result = await asyncio.wait_for(call(url_of(host, session), "t2", city="X"), 10)
    assert [c.text for c in result.content] == ["no such city"]
    assert result.is_error is True


async def test_closing_a_session_releases_its_waiting_call(host: ToolHost):
    session = await host.open(TOOLS)
    pending = asyncio.create_task(call(url_of(host, session), "t3", city="Rome"))
    for _ in range(300):
        if session.pending:
            break
        await asyncio.sleep(0.01)
    assert session.pending == 1
    closing = asyncio.create_task(session.close())
    try:  # the call is answered with an error the model reads, or its transport goes away
        result = await asyncio.wait_for(pending, 10)
    except Exception:
        result = None
    if result is not None:
        assert [c.text for c in result.content] == [GONE]
        assert result.is_error is True
    await asyncio.wait_for(closing, 10)
    assert host.stats() == {"sessions": 0, "pending_calls": 0}


async def test_unknown_secret_and_foreign_host_get_404(host: ToolHost):
    session = await host.open(TOOLS)
    url = url_of(host, session)
    body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    async with httpx.AsyncClient() as client:
        wrong = await client.post(url.rsplit("/", 1)[0] + "/not-the-secret", json=body)
        assert wrong.status_code == 404
        foreign = await client.post(url, json=body, headers={"Host": "evil.example:80"})
        assert foreign.status_code == 404


async def test_config_file_is_private(host: ToolHost, tmp_path: Path):
    session = await host.open(TOOLS)
    path = tmp_path / "mcp.json"
    host.write_config(session, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    server = json.loads(path.read_text())["mcpServers"]["client"]
    assert server["type"] == "http"
    assert server["url"].startswith("http://127.0.0.1:")
    assert server["url"].endswith("/mcp/" + session.secret)
    assert len(session.secret) >= 40
