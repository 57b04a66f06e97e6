"""Client tools through the chat surface end to end (real CLI, fake upstream): the openai SDK's
agent loop on the live process, a history whose results no process holds (resumed), and
`tool_choice: none` over a tool history (offered, every call refused by the CLI)."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from conformance.fake_anthropic import FakeAnthropic, fake_directive
from conformance.openai_agent import TOOLS, run_openai_loop
from tests.conftest import upstream_requests

PLAN = [
    [
        {"name": "get_weather", "input": {"city": "Paris"}},
        {"name": "get_time", "input": {"city": "Paris"}},
    ],
    [{"name": "get_weather", "input": {"city": "Rome"}}],
]


def planned(marker: str) -> str:
    return f"plan {marker} {fake_directive(tool_plan=PLAN)}"


def answered_first_step(marker: str) -> list[dict[str, Any]]:
    """The first step's calls and results, as a client would send them to a fresh proxy."""
    calls = [
        {
            "id": f"toolu_{n}",
            "type": "function",
            "function": {"name": step["name"], "arguments": f'{{"city": "{city}"}}'},
        }
        for n, step, city in ((1, PLAN[0][0], "Paris"), (2, PLAN[0][1], "Paris"))
    ]
    return [
        {"role": "user", "content": planned(marker)},
        {"role": "assistant", "content": None, "tool_calls": calls},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "toolu_2", "content": "noon"},
    ]


@pytest.mark.parametrize("stream", [False, True])
def test_agent_loop(tool_client: openai.OpenAI, upstream: FakeAnthropic, marker: str, stream):
    got = run_openai_loop(tool_client, "sonnet", planned(marker), stream)
    assert got["tool_calls"] == ["get_weather", "get_time", "get_weather"]
    assert got["finish_reasons"] == ["tool_calls", "tool_calls", "stop"]
    assert got["final"] == "final: sunny 21C in Paris | 12:00 in Paris | sunny 21C in Rome"
    offered = upstream_requests(upstream, marker)[0]["body"]["tools"]
    assert {"mcp__client__get_weather", "mcp__client__get_time"} <= {t["name"] for t in offered}


def test_results_no_process_holds_are_resumed_as_real_turns(
    tool_client: openai.OpenAI, upstream: FakeAnthropic, marker: str
):
    answer = tool_client.chat.completions.create(
        model="sonnet", messages=answered_first_step(marker), tools=TOOLS
    )
    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    assert call.function.name == "get_weather" and call.function.arguments == '{"city": "Rome"}'
    sent = upstream_requests(upstream, marker)[0]["body"]["messages"]
    turns = [m for m in sent if m["role"] != "system"]
    assert turns[1]["content"][0]["name"] == "mcp__client__get_weather"
    assert [b["tool_use_id"] for b in turns[2]["content"]] == ["toolu_1", "toolu_2"]


def test_tool_choice_none_over_a_tool_history_answers_in_text(
    tool_client: openai.OpenAI, marker: str
):
    answer = tool_client.chat.completions.create(
        model="sonnet", messages=answered_first_step(marker), tools=TOOLS, tool_choice="none"
    )
    choice = answer.choices[0]
    assert choice.finish_reason == "stop" and not choice.message.tool_calls
    assert (choice.message.content or "").startswith("final: sunny | noon")
