"""One answer's client tool calls and usage (engine/tool_round.py), and the MCP config and
argv for a tool-offering process: pure, no processes."""

from __future__ import annotations

import json

import pytest

from cli_bridge.engine.history import ProcessKey, conversation_digest
from cli_bridge.engine.tool_round import (
    ToolRound,
    UsageTally,
    result_text,
    tool_results,
)
from cli_bridge.protocol.argv import build_argv
from cli_bridge.protocol.client_tools import (
    ClientTool,
    ToolCall,
    ToolSet,
    cli_tool_name,
    client_tool_name,
)
from cli_bridge.protocol.events import AssistantBlock, MessageDelta, MessageStart

TOOLS = ToolSet((ClientTool("get_weather", "Weather", '{"type":"object"}'),))


def tool_block(tool_id: str, name: str, args: dict) -> AssistantBlock:
    return AssistantBlock("m1", "tool_use", "", tool_id=tool_id, tool_name=name, tool_input=args)


def test_names_carry_the_server_prefix_one_way():
    assert cli_tool_name("get_weather") == "mcp__client__get_weather"
    assert client_tool_name("mcp__client__get_weather") == "get_weather"
    assert client_tool_name("Read") is None  # a Claude Code built-in
    assert client_tool_name("StructuredOutput") is None
    assert client_tool_name("mcp__client__") is None
    assert client_tool_name("mcp__other__x") is None


def test_round_collects_client_calls_and_stops_at_tool_use():
    rnd = ToolRound(TOOLS)
    rnd.feed(AssistantBlock("m1", "text", "Let me check."))
    rnd.feed(tool_block("t1", "mcp__client__get_weather", {"city": "Paris"}))
    rnd.feed(tool_block("t2", "Read", {"path": "/x"}))  # never surfaced
    rnd.feed(tool_block("t3", "mcp__client__get_weather", {"city": "Oslo"}))
    assert not rnd.stops(MessageDelta("m1", "end_turn"))
    assert rnd.stops(MessageDelta("m1", "tool_use"))
    assert rnd.surfaced() == (
        ToolCall("t1", "get_weather", '{"city": "Paris"}'),
        ToolCall("t3", "get_weather", '{"city": "Oslo"}'),
    )
    assert rnd.held_blocks("Let me check.") == [
        {"type": "text", "text": "Let me check."},
        {
            "type": "tool_use",
            "id": "t1",
            "name": "mcp__client__get_weather",
            "input": {"city": "Paris"},
        },
        {
            "type": "tool_use",
            "id": "t3",
            "name": "mcp__client__get_weather",
            "input": {"city": "Oslo"},
        },
    ]
    assert rnd.held_blocks("")[0]["type"] == "tool_use"  # no empty text block


def test_only_permitted_tools_end_an_answer():
    refused = ToolRound(ToolSet(TOOLS.tools, permitted=False))
    refused.feed(tool_block("t1", "mcp__client__get_weather", {}))
    assert not refused.stops(MessageDelta("m1", "tool_use"))
    none = ToolRound(None)
    none.feed(tool_block("t1", "mcp__client__get_weather", {}))
    assert not none.stops(MessageDelta("m1", "tool_use"))


def test_one_call_surfaces_the_first_and_sets_the_rest_aside():
    rnd = ToolRound(ToolSet(TOOLS.tools, one_call=True))
    rnd.feed(tool_block("t1", "mcp__client__get_weather", {"city": "A"}))
    rnd.feed(tool_block("t2", "mcp__client__get_weather", {"city": "B"}))
    assert [c.id for c in rnd.surfaced()] == ["t1"]
    assert rnd.extra == ["t2"]


def test_usage_of_one_answer_sums_its_messages():
    tally = UsageTally()
    tally.feed(MessageStart("m1", "x", {"input_tokens": 100, "output_tokens": 1}))
    tally.feed(MessageDelta("m1", "tool_use", {"output_tokens": 7}))
    tally.feed(MessageStart("m2", "x", {"input_tokens": 120, "cache_read_input_tokens": 5}))
    tally.feed(MessageDelta("m2", "end_turn", {"output_tokens": 3}))
    assert tally.usage == {"input_tokens": 220, "output_tokens": 10, "cache_read_input_tokens": 5}


def test_tool_results_split_from_the_rest_of_the_turn():
    prompt = [
        {"type": "tool_result", "tool_use_id": "t1", "content": "sunny"},
        {"type": "tool_result", "tool_use_id": "t2", "content": [{"type": "text", "text": "a"}]},
        {"type": "text", "text": "and now?"},
    ]
    results, rest = tool_results(prompt)  # type: ignore[arg-type]
    assert [r["tool_use_id"] for r in results] == ["t1", "t2"]  # type: ignore[typeddict-item]
    assert rest == [{"type": "text", "text": "and now?"}]
    assert [result_text(r) for r in results] == ["sunny", "a"]
    assert tool_results("plain text") == ([], [{"type": "text", "text": "plain text"}])


def test_the_parked_digest_matches_the_history_the_client_sends_back():
    """What the engine parks under must equal what the client's next request hashes to."""
    key = ProcessKey("opus", tools=TOOLS)
    rnd = ToolRound(TOOLS)
    rnd.feed(tool_block("t1", "mcp__client__get_weather", {"city": "Paris"}))
    held = (
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": rnd.held_blocks("On it.")},
    )
    sent_back = (
        {"role": "user", "content": [{"type": "text", "text": "weather?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "On it."},
                {
                    "type": "tool_use",
                    "id": "t1",
                    "name": "mcp__client__get_weather",
                    "input": json.loads(rnd.surfaced()[0].arguments),
                },
            ],
        },
    )
    assert conversation_digest(key, held) == conversation_digest(key, sent_back)  # type: ignore[arg-type]
    other = ProcessKey("opus", tools=ToolSet(TOOLS.tools, instructions="x"))
    assert conversation_digest(other, held) != conversation_digest(key, held)  # type: ignore[arg-type]


def test_argv_names_the_mcp_config_file_and_permits_only_that_server(tmp_path):
    argv = build_argv("claude", "opus", mcp_config=tmp_path / "mcp.json", allow_mcp_server="client")
    assert argv[argv.index("--mcp-config") + 1] == str(tmp_path / "mcp.json")
    assert argv[argv.index("--allowedTools") + 1] == "mcp__client"
    assert "--strict-mcp-config" in argv
    assert argv[argv.index("--tools") + 1] == ""  # Claude Code's own tools stay off
    plain = build_argv("claude", "opus")
    assert "--mcp-config" not in plain and "--allowedTools" not in plain
    with pytest.raises(ValueError):
        build_argv("claude", "opus", allow_mcp_server="x y")
