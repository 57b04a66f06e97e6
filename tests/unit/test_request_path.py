"""The pieces of the one request path that need no server: limits named by the surface's
field, and the chat conversion into TurnInput."""

from __future__ import annotations

import pytest

from cli_bridge.errors import InvalidRequest
from handlers.api.chat import chat_input
from handlers.limits import check_messages
from handlers.turns import TurnInput


def test_limits_name_the_surfaces_own_field():
    items = [{"role": "user", "content": "ok"}, {"role": "user", "content": "x" * 50}]
    with pytest.raises(InvalidRequest) as long:
        check_messages(items, param="input", max_messages=5, max_chars=20)
    assert long.value.param == "input.1" and "input.1 is too long" in long.value.message
    with pytest.raises(InvalidRequest) as many:
        check_messages(items, param="input", max_messages=1, max_chars=100)
    assert (many.value.param, many.value.code) == ("input", "too_many_messages")


def test_limits_name_where_each_message_came_from():
    items = [{"role": "user", "content": "ok"}, {"role": "user", "content": "x" * 50}]
    with pytest.raises(InvalidRequest) as long:
        check_messages(
            items,
            param="input",
            where=lambda i: ("previous_response_id", "input.0")[i],
            max_messages=5,
            max_chars=20,
        )
    assert long.value.param == "input.0" and "input.0 is too long" in long.value.message


def test_chat_input_carries_prompt_system_prompt_and_history():
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "Again"},
    ]
    given = chat_input(messages)
    assert isinstance(given, TurnInput)
    assert given.system_prompt == "Be brief."
    assert given.prompt == "Again"
    assert given.history == (
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
    )
    assert given.continuable


def test_chat_input_reads_the_conversation_id_from_metadata():
    messages = [{"role": "user", "content": "Hi"}]
    assert chat_input(messages, {"conversation_id": " c-1 "}).conversation_id == "c-1"
    for metadata in (None, {}, {"conversation_id": "  "}, {"other": "x"}):
        assert chat_input(messages, metadata).conversation_id is None
