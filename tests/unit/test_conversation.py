"""cli_bridge.engine.history: which requests a live CLI process may continue."""

from __future__ import annotations

from cli_bridge.engine.history import (
    ProcessKey,
    ReplyText,
    continuation,
    conversation_digest,
)
from cli_bridge.formats.openai_chat.request import conversation_from_messages
from cli_bridge.protocol.events import AssistantBlock, TextDelta

KEY = ProcessKey("opus")


def test_plain_exchange_and_instructions_left_out():
    messages = [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Hi"},
        {"role": "developer", "content": [{"type": "text", "text": "French"}]},
        {"role": "assistant", "content": "Salut."},
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
    ]
    assert conversation_from_messages(messages) == (
        ("user", "Hi"),
        ("assistant", "Salut."),
        ("user", "a\nb"),
    )


def test_null_assistant_content_is_empty_text():
    conv = conversation_from_messages([{"role": "assistant", "content": None}])
    assert conv == (("assistant", ""),)


def test_anything_but_plain_text_turns_means_no_reuse():
    user = {"role": "user", "content": "x"}
    for odd in (
        {"role": "tool", "content": "r", "tool_call_id": "1"},
        {"role": "function", "name": "f", "content": "r"},
        {"role": "user", "content": "x", "name": "bob"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]},
        {"role": "assistant", "content": "x", "function_call": {"name": "f"}},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]},
        {"role": "user", "content": 42},
    ):
        assert conversation_from_messages([user, odd]) is None, odd
    assert conversation_from_messages([{"role": "system", "content": "only"}]) is None


def test_continuation_needs_history_then_assistant_then_user():
    first = (("user", "a"),)
    assert continuation(first) is None
    assert continuation((("user", "a"), ("assistant", "b"))) is None
    conv = (("user", "a"), ("assistant", "b"), ("user", "c"))
    assert continuation(conv) == ((("user", "a"), ("assistant", "b")), "c")
    assert continuation((("user", "a"), ("user", "b"), ("user", "c"))) is None
    assert continuation((("user", "a"), ("assistant", "b"), ("user", "  "))) is None


def test_digest_covers_model_system_prompt_and_exact_history():
    conv = (("user", "a"), ("assistant", "b"))
    base = conversation_digest(KEY, conv)
    assert base == conversation_digest(ProcessKey("opus"), tuple(conv))
    assert base != conversation_digest(ProcessKey("sonnet"), conv)
    assert base != conversation_digest(ProcessKey("opus", "sys"), conv)
    assert base != conversation_digest(KEY, (("user", "a"), ("assistant", "b ")))
    assert base != conversation_digest(KEY, (("user", "a"),))
    assert base != conversation_digest(KEY, conv, owner="key-1")
    assert conversation_digest(KEY, conv, "key-1") != conversation_digest(KEY, conv, "key-2")
    # No separator trick: ("ab", "") and ("a", "b") differ.
    assert conversation_digest(KEY, (("user", "ab"),)) != conversation_digest(
        KEY, (("user", "a"), ("user", "b"))
    )


def test_key_label_never_shows_the_prompt():
    assert ProcessKey("opus").label == "opus"
    label = ProcessKey("opus", "secret instructions").label
    assert label.startswith("opus+system:") and "secret" not in label


def test_reply_text_joins_blocks_like_the_completion():
    reply = ReplyText()
    reply.feed(TextDelta("m1", 0, "ignored: deltas are not the record"))
    reply.feed(AssistantBlock("m1", "text", "Hello"))
    reply.feed(AssistantBlock("m1", "thinking", "hidden"))
    reply.feed(AssistantBlock("m1", "text", " world"))
    reply.feed(AssistantBlock("m2", "text", "Next message"))
    reply.feed(AssistantBlock("m3", "text", "API Error", is_api_error=True))
    assert reply.text == "Hello world\n\nNext message"
