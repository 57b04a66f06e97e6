"""System-prompt placement (cli_bridge/protocol/instructions.py, handlers/turns.place_instructions):
pure functions, no processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_bridge import CliRequest
from cli_bridge.engine.history import ProcessKey, conversation_digest
from cli_bridge.protocol.argv import build_argv
from cli_bridge.protocol.blocks import CliMessage
from cli_bridge.protocol.instructions import (
    DEFAULT_BASE_PROMPT,
    SystemSlot,
    instructions_block,
    into_first_user_turn,
    system_slot,
    with_instructions,
)
from handlers.api.chat import chat_input
from handlers.config.settings import Settings, settings_from_args
from handlers.turns import TurnInput, place_instructions

BASE = "You answer API clients."


def test_system_slot_per_mode():
    assert system_slot("user", "Be terse.", BASE) == SystemSlot(BASE, "replace")
    assert system_slot("user", None, "") == SystemSlot(None)
    assert system_slot("append", "Be terse.", BASE) == SystemSlot("Be terse.", "append")
    assert system_slot("replace", "Be terse.", BASE) == SystemSlot("Be terse.", "replace")
    assert system_slot("replace", None, BASE) == SystemSlot(None)  # today's behaviour
    assert system_slot("append", "", BASE) == SystemSlot(None)


def test_instructions_open_a_string_turn_exactly():
    assert (
        with_instructions("Be terse.", "hi") == "<instructions>\nBe terse.\n</instructions>\n\nhi"
    )
    assert with_instructions("Be terse.", "") == "<instructions>\nBe terse.\n</instructions>"
    assert with_instructions(None, "hi") == "hi"
    assert with_instructions("", "hi") == "hi"


def test_instructions_lead_a_content_block_turn():
    image: CliMessage = {
        "role": "user",
        "content": [
            {"type": "text", "text": "what is this?"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "x"}},
        ],
    }
    placed = with_instructions("Be terse.", image["content"])
    assert isinstance(placed, list) and len(placed) == 3
    assert placed[0] == {"type": "text", "text": instructions_block("Be terse.")}
    assert placed[1:] == image["content"]


def test_only_the_first_user_turn_gets_the_instructions():
    turns: list[CliMessage] = [
        {"role": "assistant", "content": "Hello, how can I help?"},
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "two"},
        {"role": "user", "content": "three"},
    ]
    placed = into_first_user_turn("Sys", turns)
    assert placed[0] == turns[0]
    assert placed[1]["content"] == "<instructions>\nSys\n</instructions>\n\none"
    assert placed[2:] == turns[2:]
    assert turns[1]["content"] == "one", "input untouched"
    assert into_first_user_turn("Sys", turns[:1]) == turns[:1]  # no user turn: unchanged


def test_instructions_make_the_history_digest_differ():
    history = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "more"},
    ]
    key = ProcessKey("sonnet", BASE)
    a = conversation_digest(key, into_first_user_turn("Be terse.", history))
    b = conversation_digest(key, into_first_user_turn("Be verbose.", history))
    assert a != b
    assert into_first_user_turn(None, history) == history
    assert into_first_user_turn("X", history)[1:] == history[1:]


def test_process_key_carries_the_system_flag():
    replace = ProcessKey("opus", "Sys")
    append = ProcessKey("opus", "Sys", "append")
    assert replace != append
    assert replace.label != append.label and "append" in append.label
    history = [{"role": "user", "content": "hi"}]
    assert conversation_digest(replace, history) != conversation_digest(append, history)


def test_argv_carries_the_chosen_file_flag_only(tmp_path: Path):
    path = tmp_path / "p.txt"
    argv = build_argv("claude", "opus", append_system_prompt_file=path)
    assert argv[-2:] == ["--append-system-prompt-file", str(path)]
    assert "--system-prompt-file" not in argv


@pytest.mark.parametrize("mode", ["user", "append", "replace"])
def test_place_instructions_per_mode(mode):
    messages = [
        {"role": "system", "content": "Be terse."},
        {"role": "developer", "content": "Answer in French."},
        {"role": "user", "content": "hi"},
    ]
    given = place_instructions(chat_input(messages), mode, BASE)
    if mode == "user":
        block = "<instructions>\nBe terse.\n\nAnswer in French.\n</instructions>"
        assert given.prompt == f"{block}\n\nhi"
        assert given.system_prompt == BASE and given.system_flag == "replace"
    else:
        assert given.prompt == "hi"
        assert given.system_prompt == "Be terse.\n\nAnswer in French."
        assert given.system_flag == ("append" if mode == "append" else "replace")
    assert given.history == ()


def test_user_mode_puts_instructions_in_the_history_first_user_turn():
    messages = [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "more"},
    ]
    given = place_instructions(chat_input(messages), "user", BASE)
    block = "<instructions>\nBe terse.\n</instructions>"
    assert given.history[0] == {"role": "user", "content": f"{block}\n\nhi"}
    assert given.history[1] == {"role": "assistant", "content": "hello"}
    assert given.prompt == "more"


def test_user_mode_keys_the_pool_by_model_alone():
    """Two clients with different system prompts get the same process key in `user` mode
    (one warm pool for both), and different keys in `replace` mode."""

    def key(mode, system):
        given = place_instructions(TurnInput("hi", system), mode, BASE)
        return CliRequest(
            "sonnet", given.prompt, given.system_prompt, system_flag=given.system_flag
        ).key

    assert key("user", "A") == key("user", "B") == key("user", None) == ProcessKey("sonnet", BASE)
    assert key("replace", "A") != key("replace", "B")
    assert key("append", "A") != key("replace", "A")


def test_user_mode_without_instructions_leaves_the_prompt():
    history = ({"role": "user", "content": "a"}, {"role": "assistant", "content": "b"})
    given = place_instructions(TurnInput("hi", None, history), "user", BASE)
    assert given == TurnInput("hi", BASE, history, system_flag="replace")


def test_settings_defaults_and_flags():
    assert Settings().system_prompt_mode == "user"
    assert Settings().base_system_prompt == DEFAULT_BASE_PROMPT
    assert Settings().bridge_config().pool_system_prompt == DEFAULT_BASE_PROMPT
    s = settings_from_args(["--system-prompt-mode", "append"], {})
    assert s.system_prompt_mode == "append" and s.bridge_config().pool_system_prompt is None
    env = {"CLAUDE_PROXY_SYSTEM_PROMPT_MODE": "replace", "CLAUDE_PROXY_BASE_SYSTEM_PROMPT": ""}
    s = settings_from_args([], env)
    assert s.system_prompt_mode == "replace" and s.base_system_prompt == ""
    assert settings_from_args(["--base-system-prompt", ""], {}).pool_system_prompt is None
    with pytest.raises(SystemExit):
        settings_from_args(["--system-prompt-mode", "system"], {})
