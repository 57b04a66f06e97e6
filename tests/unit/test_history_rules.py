"""The Messages API's tool-history rules, with the API's exact error texts."""

from __future__ import annotations

from typing import Any

from cli_bridge.protocol.history_rules import (
    TOOLS_REQUIRED,
    HistoryViolation,
    check_tool_history,
)

TOOLS = [{"name": "get_weather", "input_schema": {"type": "object"}}]


def use(*ids: str) -> dict[str, Any]:
    blocks = [{"type": "text", "text": "checking"}]
    blocks += [{"type": "tool_use", "id": i, "name": "get_weather", "input": {}} for i in ids]
    return {"role": "assistant", "content": blocks}


def result(*ids: str) -> dict[str, Any]:
    return {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": i, "content": "ok"} for i in ids],
    }


USER = {"role": "user", "content": "hi"}
SYSTEM = {"role": "system", "content": []}


def test_valid_histories_pass() -> None:
    assert check_tool_history([USER], None) is None
    assert check_tool_history([USER, SYSTEM, {"role": "assistant", "content": "x"}], []) is None
    history = [USER, SYSTEM, use("a", "b"), result("b", "a"), {"role": "assistant", "content": "y"}]
    assert check_tool_history(history, TOOLS) is None


def test_tool_blocks_need_tools() -> None:
    for tools in (None, [], {}, "get_weather"):
        got = check_tool_history([USER, use("a"), result("a")], tools)
        assert got == HistoryViolation(TOOLS_REQUIRED)
    assert TOOLS_REQUIRED == (
        "Requests which include tool_use or tool_result blocks must define tools."
    )
    # A lone tool_result counts too, and the tools rule comes first.
    assert check_tool_history([result("a")], None) == HistoryViolation(TOOLS_REQUIRED)


def test_tool_use_without_result_in_next_message() -> None:
    got = check_tool_history([USER, use("a", "b", "c"), result("b")], TOOLS)
    assert got == HistoryViolation(
        "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: "
        "a, c. Each `tool_use` block must have a corresponding `tool_result` block in the next "
        "message.",
        1,
    )
    # The answer must be the very next message: a system entry in between breaks the pair.
    got = check_tool_history([USER, use("a"), SYSTEM, result("a")], TOOLS)
    assert got is not None and got.index == 1
    # Last message, or followed by an assistant: nothing answers it.
    assert check_tool_history([USER, use("a")], TOOLS) == HistoryViolation(
        "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: "
        "a. Each `tool_use` block must have a corresponding `tool_result` block in the next "
        "message.",
        1,
    )


def test_tool_result_without_use_in_previous_message() -> None:
    history = [USER, use("a"), result("a"), {"role": "assistant", "content": "k"}]
    history.append(
        {"role": "user", "content": [{"type": "text", "text": "x"}, *result("zz")["content"]]}
    )
    assert check_tool_history(history, TOOLS) == HistoryViolation(
        "messages.4.content.1: unexpected `tool_use_id` found in `tool_result` blocks: zz. "
        "Each `tool_result` block must have a corresponding `tool_use` block in the previous "
        "message.",
        4,
        1,
    )
    # The first message can never answer anything.
    got = check_tool_history([result("a")], TOOLS)
    assert got is not None and (got.index, got.block) == (0, 0)


def test_first_break_in_message_order_wins() -> None:
    history = [USER, use("a"), USER, use("b"), result("b")]
    got = check_tool_history(history, TOOLS)
    assert got is not None and got.index == 1


def test_garbage_is_tolerated() -> None:
    weird: list[Any] = [None, 3, "x", {"role": "user"}, {"role": "assistant", "content": [1, None]}]
    weird.append({"role": "user", "content": {"type": "tool_result"}})
    assert check_tool_history(weird, None) is None
