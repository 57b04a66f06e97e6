"""Client tools with real clients and every `tool_choice` (real CLI, fake upstream): LangChain's
`ChatOpenAI.bind_tools` and the openai Node SDK run the same agent loop as the Python SDK;
`required` and `parallel_tool_calls: false` reach the model as the MCP server's instructions,
a named function comes back as that one call, and the warm pool learns an agent's tool set."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import httpx
import openai
import pytest

from conformance.fake_anthropic import FakeAnthropic, fake_directive
from conformance.langchain_agent import run_langchain_loop
from conformance.node_sdk import ensure_openai_node
from conformance.openai_agent import TOOLS
from handlers.config.settings import Settings
from tests.conftest import RunningProxy, serve, upstream_requests
from tests.contract import Contract

PARIS = {"city": "Paris"}
PLAN = [[{"name": "get_weather", "input": PARIS}], [{"name": "get_time", "input": PARIS}]]
NODE_AGENT = Path(__file__).resolve().parents[2] / "conformance" / "openai_node_agent.mjs"
FINAL = "final: sunny 21C in Paris | 12:00 in Paris"


def model_context(request: dict) -> str:
    """Everything the model reads besides the tools: the system prompt and the messages (the
    CLI puts MCP server instructions in a `# MCP Server Instructions` reminder)."""
    return json.dumps([request["body"].get("system"), request["body"]["messages"]])


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_langchain_agent_loop(
    tool_proxy: RunningProxy, upstream: FakeAnthropic, marker: str, stream: bool
):
    prompt = f"weather and time {marker} {fake_directive(tool_plan=PLAN)}"
    run = run_langchain_loop(tool_proxy.v1, "sk-x", "sonnet", prompt, stream)
    assert run["tool_calls"] == ["get_weather", "get_time"]
    assert run["finish_reasons"] == ["tool_calls", "tool_calls", "stop"]
    assert run["final"] == FINAL
    sent = upstream_requests(upstream, marker)
    assert all(r["status"] == 200 for r in sent)


@pytest.fixture(scope="module")
def node_agent() -> Path:
    if shutil.which("node") is None:
        pytest.fail("node is needed for the openai Node SDK agent loop")
    target = ensure_openai_node() / NODE_AGENT.name
    shutil.copyfile(NODE_AGENT, target)
    return target


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_node_sdk_agent_loop(
    tool_proxy: RunningProxy, node_agent: Path, upstream: FakeAnthropic, marker: str, stream: bool
):
    prompt = f"weather and time {marker} {fake_directive(tool_plan=PLAN)}"
    argv = ["node", str(node_agent), tool_proxy.v1, "sk-node", "sonnet", prompt]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    done = subprocess.run(
        [*argv, "stream" if stream else ""], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout.strip().splitlines()[-1])
    assert run["tool_calls"] == ["get_weather", "get_time"]
    assert run["finish_reasons"] == ["tool_calls", "tool_calls", "stop"]
    assert run["final"] == FINAL
    assert len(upstream_requests(upstream, marker)) == 3


def test_required_asks_the_model_through_the_server_instructions(
    tool_client: openai.OpenAI, upstream: FakeAnthropic, marker: str
):
    prompt = f"weather {marker} {fake_directive(tool_plan=[PLAN[0]])}"
    answer = tool_client.chat.completions.create(
        model="sonnet",
        messages=[{"role": "user", "content": prompt}],
        tools=TOOLS,
        tool_choice="required",
    )
    assert answer.choices[0].finish_reason == "tool_calls"
    first = upstream_requests(upstream, marker)[0]
    assert "# MCP Server Instructions" in model_context(first)
    assert "Every reply must call at least one of the tools" in model_context(first)


def test_a_named_function_is_answered_as_that_call(
    tool_client: openai.OpenAI, upstream: FakeAnthropic, marker: str
):
    args = {"city": "Lima"}
    prompt = f"weather {marker} {fake_directive(structured=args)}"
    answer = tool_client.chat.completions.create(
        model="sonnet",
        messages=[{"role": "user", "content": prompt}],
        tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    (call,) = answer.choices[0].message.tool_calls or []
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == args
    assert call.id.startswith("call_")
    offered = upstream_requests(upstream, marker)[0]["body"]["tools"]
    (schema,) = [t["input_schema"] for t in offered if t["name"] == "StructuredOutput"]
    assert schema["required"] == ["city"]  # get_weather's own parameters, enforced by the CLI


def test_parallel_tool_calls_false_surfaces_one_call(
    tool_client: openai.OpenAI, upstream: FakeAnthropic, marker: str
):
    both = [[{"name": "get_weather", "input": {"city": "A"}}, {"name": "get_time", "input": {}}]]
    messages = [{"role": "user", "content": f"both {marker} {fake_directive(tool_plan=both)}"}]
    answer = tool_client.chat.completions.create(
        model="sonnet", messages=messages, tools=TOOLS, parallel_tool_calls=False
    )
    (call,) = answer.choices[0].message.tool_calls or []
    assert call.function.name == "get_weather"
    first = upstream_requests(upstream, marker)[0]
    assert "Call at most one tool per reply." in model_context(first)
    follow = [
        *messages,
        answer.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "windy"},
    ]
    final = tool_client.chat.completions.create(
        model="sonnet", messages=follow, tools=TOOLS, parallel_tool_calls=False
    )
    text = final.choices[0].message.content or ""
    # The model heard why its second call did not run; the client's result is there too.
    assert text.startswith("final: ") and "windy" in text and "one tool call at a time" in text


def test_the_warm_pool_learns_an_agents_tools(
    base_settings: Settings, contract: Contract, marker: str
):
    """An agent sends the same tools and system prompt each time: from its third request on it
    is served by a warm process already connected to its tools."""
    settings = replace(base_settings, pool_size=1, pool_model="sonnet")
    body = {
        "model": "sonnet",
        "tools": TOOLS,
        "messages": [
            {"role": "system", "content": "You are a helpful agent."},
            {"role": "user", "content": f"hi {marker} {fake_directive(reply='hello')}"},
        ],
    }
    served = []
    hook = {"response": [contract.hook]}
    with serve(settings) as running, httpx.Client(timeout=60, event_hooks=hook) as client:
        for _ in range(4):
            hits = client.get(f"{running.url}/health").json()["pool"]["hits"]
            r = client.post(f"{running.v1}/chat/completions", json=body)
            assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "hello"
            served.append(client.get(f"{running.url}/health").json()["pool"]["hits"] > hits)
            time.sleep(1.5)  # the pool replaces what was taken
    assert served[2:] == [True, True], served
