"""A client agent loop with the official `openai` Python SDK: the way an application drives
tool calling through chat completions (call, run each requested tool, send the results back as
role "tool" messages, repeat until the model answers in text).

Shared by the e2e tests of client tool calling; the two tools are deterministic so a test can
check the final answer names each result (the fake upstream's `tool_plan` reports them all).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import openai

MAX_ROUNDS = 5


def get_weather(city: str) -> str:
    return f"sunny 21C in {city}"


def get_time(city: str) -> str:
    return f"12:00 in {city}"


IMPLEMENTATIONS: dict[str, Callable[..., str]] = {"get_weather": get_weather, "get_time": get_time}


def _tool(name: str, description: str) -> dict[str, Any]:
    parameters = {
        "type": "object",
        "properties": {"city": {"type": "string", "description": "City name"}},
        "required": ["city"],
    }
    fn = {"name": name, "description": description, "parameters": parameters}
    return {"type": "function", "function": fn}


TOOLS = [
    _tool("get_weather", "Current weather in a city."),
    _tool("get_time", "Local time in a city."),
]


def run_tool(name: str, arguments: str) -> str:
    """What the application answers for one call; bad calls are reported to the model as text,
    as agent frameworks do, rather than ending the loop."""
    impl = IMPLEMENTATIONS.get(name)
    if impl is None:
        return f"error: no tool {name}"
    try:
        args = json.loads(arguments or "{}")
        return impl(**args)
    except (ValueError, TypeError) as exc:
        return f"error: {exc}"


def _streamed(stream: Any) -> tuple[str, list[dict[str, Any]], str | None]:
    """Text, tool calls and finish_reason of a streamed answer: tool call deltas are gathered by
    `index` (id, type and name come in the first delta of a call, arguments in pieces)."""
    text, calls, finish = "", {}, None
    for chunk in stream:
        for choice in chunk.choices:
            delta = choice.delta
            text += delta.content or ""
            for part in delta.tool_calls or []:
                call = calls.setdefault(
                    part.index,
                    {"id": None, "type": "function", "function": {"name": "", "arguments": ""}},
                )
                call["id"] = call["id"] or part.id
                if part.function is not None:
                    call["function"]["name"] += part.function.name or ""
                    call["function"]["arguments"] += part.function.arguments or ""
            finish = choice.finish_reason or finish
    return text, [calls[i] for i in sorted(calls)], finish


def _whole(completion: Any) -> tuple[str, list[dict[str, Any]], str | None]:
    choice = completion.choices[0]
    calls = [
        {
            "id": c.id,
            "type": "function",
            "function": {"name": c.function.name, "arguments": c.function.arguments},
        }
        for c in choice.message.tool_calls or []
    ]
    return choice.message.content or "", calls, choice.finish_reason


def run_openai_loop(
    client: openai.OpenAI,
    model: str,
    prompt: str,
    stream: bool,
    tools: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Run the loop; {"rounds": model calls that asked for tools, "final": the last text,
    "tool_calls": tool names in the order asked, "finish_reasons": one per model call}."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
    names: list[str] = []
    finishes: list[str | None] = []
    rounds, text = 0, ""
    for _ in range(MAX_ROUNDS + 1):
        answer = client.chat.completions.create(
            model=model, messages=messages, tools=tools or TOOLS, stream=stream
        )
        text, calls, finish = _streamed(answer) if stream else _whole(answer)
        finishes.append(finish)
        if not calls or rounds == MAX_ROUNDS:
            break
        rounds += 1
        messages.append({"role": "assistant", "content": text or None, "tool_calls": calls})
        for call in calls:
            names.append(call["function"]["name"])
            output = run_tool(call["function"]["name"], call["function"]["arguments"])
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": output})
    return {"rounds": rounds, "final": text, "tool_calls": names, "finish_reasons": finishes}
