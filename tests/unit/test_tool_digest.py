"""The waiting process is found again only if the digest it parks under (engine) equals the
digest of the follow-up the client builds from our own answer (chat surface). A round trip
through both, without processes: answer -> client message -> follow-up request -> digest."""

from __future__ import annotations

import pytest

from cli_bridge.engine.history import ReplyText, conversation_digest, held_turns
from cli_bridge.engine.request import CliRequest
from cli_bridge.engine.tool_round import ToolRound
from cli_bridge.formats.openai_chat.request import has_tool_messages, input_from_messages
from cli_bridge.formats.openai_chat.response import CompletionBuilder
from cli_bridge.formats.openai_chat.tools import tool_plan
from cli_bridge.protocol.events import AssistantBlock, ToolCallsPending
from handlers.turns import TurnInput, place_instructions

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
BASE = [{"role": "system", "content": "be terse"}, {"role": "user", "content": "weather?"}]
OSLO = {"id": "t0", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
ROUND_2 = [
    *BASE,
    {"role": "assistant", "content": None, "tool_calls": [OSLO]},
    {"role": "tool", "tool_call_id": "t0", "content": [{"type": "text", "text": "rain"}]},
]


def request_for(messages: list[dict], mode: str) -> tuple[CliRequest, object]:
    body = {"model": "x", "messages": messages, "tools": TOOLS}
    plan = tool_plan(body, has_tool_messages(messages))
    cli = input_from_messages(messages, tools=plan.tools)
    given = TurnInput(
        cli.prompt, cli.system_prompt, cli.history, not cli.flattened, tools=plan.tools
    )
    placed = place_instructions(given, mode, "base")  # type: ignore[arg-type]
    request = CliRequest(
        "opus",
        placed.prompt,
        placed.system_prompt,
        history=placed.history,
        system_flag=placed.system_flag,
        tools=placed.tools,
    )
    return request, plan


@pytest.mark.parametrize("mode", ["user", "replace", "append"])
@pytest.mark.parametrize(
    ("messages", "text", "calls", "content_back"),
    [
        (BASE, "Let me check.", [("t1", {"city": "Paris"})], None),
        (BASE, None, [("t1", {"city": "Paris"})], None),
        (BASE, None, [("t1", {"city": "Paris"})], ""),  # a client that sends "" for null
        (BASE, "\n\n", [("t1", {"city": "Paris"})], None),  # blank text before the call
        (BASE, "x", [("t1", {"city": "Paris"}), ("t2", {"city": "Rome"})], None),
        (BASE, "x", [("t1", {"city": 1.0e20, "n": [1, 2.5]})], None),
        (ROUND_2, "ok", [("t1", {"city": "Paris"})], None),
        ([*ROUND_2, {"role": "user", "content": "and Paris?"}], "ok", [("t1", {})], None),
    ],
    ids=["text", "no-text", "empty-string", "blank", "two-calls", "numbers", "round-2", "user"],
)
def test_the_follow_up_finds_the_waiting_process(mode, messages, text, calls, content_back):
    request, plan = request_for(messages, mode)
    tools, reply = ToolRound(request.tools), ReplyText()
    builder = CompletionBuilder("id", 0, "m", plan=plan)  # type: ignore[arg-type]
    events = [AssistantBlock("m1", "text", text)] if text is not None else []
    for tool_id, args in calls:
        name = "mcp__client__get_weather"
        events.append(
            AssistantBlock("m1", "tool_use", "", tool_id=tool_id, tool_name=name, tool_input=args)
        )
    for event in events:
        tools.feed(event)
        reply.feed(event)
        builder.feed(event)
    held = held_turns(request.history, request.prompt, reply.text)
    held = (*held[:-1], {"role": "assistant", "content": tools.held_blocks(reply.text)})
    parked = conversation_digest(request.key, held)

    message = builder.build(ToolCallsPending(tools.surfaced(), {}))["choices"][0]["message"]
    content = message["content"] if content_back is None else content_back
    back = {"role": "assistant", "content": content, "tool_calls": message["tool_calls"]}
    results = [
        {"role": "tool", "tool_call_id": c["id"], "content": "sunny"} for c in message["tool_calls"]
    ]
    follow, _ = request_for([*messages, back, *results], mode)
    assert conversation_digest(follow.key, follow.history) == parked
