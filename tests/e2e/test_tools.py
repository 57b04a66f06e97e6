"""Client tool calling end to end: the real CLI, the proxy's MCP server, the fake upstream.

An agent loop of two tool calls and a final answer, with the plain openai SDK (streaming and
not); the model sees each client tool with its schema and receives each result as the
`tool_result` of its own `tool_use` (same ids, same names); the live process answers the
follow-up (fast path), a restarted proxy resumes it (slow path); parallel calls all come back;
a dangling call frees its process.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace

import httpx
import openai
import pytest

from conformance.fake_anthropic import FakeAnthropic, fake_directive
from conformance.openai_agent import TOOLS, run_openai_loop
from handlers.config.settings import Settings
from tests.conftest import RunningProxy, serve, upstream_requests, wait_no_cli_children
from tests.contract import Contract

WEATHER = {"name": "get_weather", "input": {"city": "Paris"}}
TIME = {"name": "get_time", "input": {"city": "Paris"}}
PLAN = [[WEATHER], [TIME]]  # two rounds, one call each, then the final answer


def client_for(proxy: RunningProxy, contract: Contract) -> openai.OpenAI:
    http = httpx.Client(timeout=60, event_hooks={"response": [contract.hook]})
    return openai.OpenAI(base_url=proxy.v1, api_key="sk-x", max_retries=0, http_client=http)


def blocks(message: dict) -> list[dict]:
    content = message["content"]
    return content if isinstance(content, list) else [{"type": "text", "text": content}]


def tool_exchanges(request: dict) -> list[tuple[str, str, str]]:
    """(tool_use id, name, the tool_result text that answers it) in an upstream request."""
    out = []
    messages = request["body"]["messages"]
    for i, message in enumerate(messages[:-1]):
        if message["role"] != "assistant":
            continue
        results = {
            b["tool_use_id"]: b for b in blocks(messages[i + 1]) if b.get("type") == "tool_result"
        }
        for block in blocks(message):
            if block.get("type") == "tool_use":
                result = results[block["id"]]  # the rule the real API enforces
                content = result["content"]
                text = (
                    content
                    if isinstance(content, str)
                    else "".join(part.get("text", "") for part in content)
                )
                out.append((block["id"], block["name"], text.strip()))
    return out


def health(proxy: RunningProxy) -> dict:
    return httpx.get(f"{proxy.url}/health", timeout=10).json()


def wait_tools_idle(proxy: RunningProxy, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        tools = health(proxy)["tools"]
        if tools["pending_calls"] == 0 and tools["waiting"]["parked"] == 0:
            return tools
        if time.monotonic() > deadline:
            return tools
        time.sleep(0.05)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_agent_loop_with_the_openai_sdk(
    tool_proxy: RunningProxy, contract: Contract, upstream: FakeAnthropic, marker: str, stream
):
    before = health(tool_proxy)["tools"]["waiting"]["hits"]
    prompt = f"Weather and time in Paris? {marker} {fake_directive(tool_plan=PLAN)}"
    run = run_openai_loop(client_for(tool_proxy, contract), "sonnet", prompt, stream)
    assert run["tool_calls"] == ["get_weather", "get_time"]
    assert run["finish_reasons"] == ["tool_calls", "tool_calls", "stop"]
    assert run["final"] == "final: sunny 21C in Paris | 12:00 in Paris"
    sent = upstream_requests(upstream, marker)
    # Every client tool is offered with the client's own schema, under the MCP prefix.
    offered = {t["name"]: t for t in sent[0]["body"]["tools"]}
    for tool in TOOLS:
        fn = tool["function"]
        seen = offered[f"mcp__client__{fn['name']}"]
        assert seen["input_schema"]["properties"] == fn["parameters"]["properties"]
        assert seen["description"] == fn["description"]
    assert not any(name in offered for name in ("Bash", "Read", "Write"))  # CC's own: off
    # The model got its own tool_use answered by a tool_result: same ids, same names.
    last = sent[-1]
    assert [(name, text) for _, name, text in tool_exchanges(last)] == [
        ("mcp__client__get_weather", "sunny 21C in Paris"),
        ("mcp__client__get_time", "12:00 in Paris"),
    ]
    assert all(r["status"] == 200 for r in sent)
    # Both follow-ups continued the process that made the call.
    assert health(tool_proxy)["tools"]["waiting"]["hits"] - before == 2
    assert wait_tools_idle(tool_proxy)["pending_calls"] == 0


def test_tools_are_connected_before_the_first_upstream_request(
    tool_proxy: RunningProxy, contract: Contract, upstream: FakeAnthropic, marker: str
):
    """A cold process (no pool): the very first upstream request already offers the tools,
    so the user line went in only after the CLI had listed them (claude-cli.md §14)."""
    client = client_for(tool_proxy, contract)
    prompt = f"weather {marker} {fake_directive(reply='no tools needed')}"
    answer = client.chat.completions.create(
        model="sonnet", messages=[{"role": "user", "content": prompt}], tools=TOOLS
    )
    assert answer.choices[0].message.content == "no tools needed"
    assert answer.choices[0].finish_reason == "stop"
    first = upstream_requests(upstream, marker)[0]
    names = [t["name"] for t in first["body"]["tools"]]
    assert "mcp__client__get_weather" in names and "mcp__client__get_time" in names


def test_the_prompt_goes_in_only_after_the_cli_listed_the_tools(
    base_settings: Settings, contract: Contract, marker: str
):
    """The engine's own order for a cold process: spawn, the CLI lists the tools at the
    proxy's MCP server, then the user line is written (a tracer sees each step)."""
    seen: list[tuple[str, int]] = []

    def tracer(what: str, pid: int, line: bytes | None) -> None:
        if what != "line":
            seen.append((what, pid))

    with serve(replace(base_settings, tracer=tracer)) as running:
        prompt = f"order {marker} {fake_directive(reply='ok')}"
        answer = client_for(running, contract).chat.completions.create(
            model="sonnet", messages=[{"role": "user", "content": prompt}], tools=TOOLS
        )
        assert answer.choices[0].message.content == "ok"
    steps = [what for what, _ in seen]
    assert steps[:3] == ["spawn", "tools", "write"], steps
    assert len({pid for what, pid in seen if what != "spawn"}) == 1


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_parallel_calls_all_come_back(
    tool_proxy: RunningProxy, contract: Contract, upstream: FakeAnthropic, marker: str, stream
):
    plan = [[WEATHER, {"name": "get_weather", "input": {"city": "Oslo"}}]]
    prompt = f"two cities {marker} {fake_directive(tool_plan=plan, tool_text='Checking both.')}"
    client = client_for(tool_proxy, contract)
    messages = [{"role": "user", "content": prompt}]
    if stream:
        parts = list(
            client.chat.completions.create(
                model="sonnet", messages=messages, tools=TOOLS, stream=True
            )
        )
        deltas = [part for c in parts for part in c.choices[0].delta.tool_calls or []]
        ids = {part.id for part in deltas if part.id}
        assert len(ids) == 2
        assert parts[-1].choices[0].finish_reason == "tool_calls"
    completion = client.chat.completions.create(model="sonnet", messages=messages, tools=TOOLS)
    message = completion.choices[0].message
    assert completion.choices[0].finish_reason == "tool_calls"
    assert message.content == "Checking both."
    calls = message.tool_calls or []
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_weather", {"city": "Oslo"}),
    ]
    assert len({c.id for c in calls}) == 2
    follow = [
        *messages,
        message.model_dump(exclude_none=True),
        *[
            {"role": "tool", "tool_call_id": call.id, "content": f"ok {i}"}
            for i, call in enumerate(calls)
        ],
    ]
    final = client.chat.completions.create(model="sonnet", messages=follow, tools=TOOLS)
    assert final.choices[0].finish_reason == "stop"
    assert sorted(final.choices[0].message.content.removeprefix("final: ").split(" | ")) == [
        "ok 0",
        "ok 1",
    ]


def test_round_trip_after_a_proxy_restart(
    base_settings: Settings, contract: Contract, upstream: FakeAnthropic, marker: str
):
    """The process that made the call is gone: the history is resumed with real tool blocks."""
    prompt = f"weather {marker} {fake_directive(tool_plan=[[WEATHER]])}"
    messages: list[dict] = [{"role": "user", "content": prompt}]
    with serve(replace(base_settings, session_idle=30)) as first:
        answer = client_for(first, contract).chat.completions.create(
            model="sonnet", messages=messages, tools=TOOLS
        )
    call = (answer.choices[0].message.tool_calls or [])[0]
    messages += [
        answer.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "rainy 9C"},
    ]
    with serve(base_settings) as second:
        final = client_for(second, contract).chat.completions.create(
            model="sonnet", messages=messages, tools=TOOLS
        )
        assert health(second)["tools"]["waiting"]["hits"] == 0
    assert final.choices[0].message.content == "final: rainy 9C"
    last = upstream_requests(upstream, marker)[-1]
    assert tool_exchanges(last) == [(call.id, "mcp__client__get_weather", "rainy 9C")]
    names = [t["name"] for t in last["body"]["tools"]]
    assert "mcp__client__get_weather" in names  # the same tools offered again


def test_a_dangling_call_frees_its_process(
    base_settings: Settings, contract: Contract, marker: str
):
    with serve(replace(base_settings, session_idle=30, tool_wait=1.0)) as running:
        client = client_for(running, contract)
        prompt = f"weather {marker} {fake_directive(tool_plan=[[WEATHER]])}"
        answer = client.chat.completions.create(
            model="sonnet", messages=[{"role": "user", "content": prompt}], tools=TOOLS
        )
        assert answer.choices[0].finish_reason == "tool_calls"
        assert health(running)["tools"]["waiting"]["parked"] == 1
        time.sleep(1.5)  # the client never answers
        assert wait_no_cli_children(under=running.settings.runtime_dir) == []
        tools = wait_tools_idle(running)
        assert tools == {**tools, "sessions": 0, "pending_calls": 0}
        assert tools["waiting"]["expired"] == 1


def test_each_answer_reports_its_own_usage(
    tool_proxy: RunningProxy, contract: Contract, upstream: FakeAnthropic, marker: str
):
    """The CLI's `result` counts its whole turn; an answer continued after tool results reports
    only its own upstream request, and the two answers add up to what the upstream counted."""
    client = client_for(tool_proxy, contract)
    messages: list[dict] = [
        {"role": "user", "content": f"w {marker} {fake_directive(tool_plan=[[WEATHER]])}"}
    ]
    first = client.chat.completions.create(model="sonnet", messages=messages, tools=TOOLS)
    call = (first.choices[0].message.tool_calls or [])[0]
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
    ]
    second = client.chat.completions.create(model="sonnet", messages=messages, tools=TOOLS)
    assert second.choices[0].message.content == "final: sunny"
    counted = [r["usage"] for r in upstream_requests(upstream, marker)]
    assert len(counted) == 2
    for answer, usage in zip((first, second), counted, strict=True):
        assert answer.usage is not None
        assert answer.usage.completion_tokens == usage["output_tokens"]
        prompt = usage["input_tokens"] + usage["cache_read_input_tokens"]
        assert answer.usage.prompt_tokens == prompt + usage["cache_creation_input_tokens"]
