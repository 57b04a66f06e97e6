"""cli_bridge.engine.history: which requests a live CLI process may continue."""

from __future__ import annotations

from cli_bridge.engine.history import (
    ProcessKey,
    ReplyText,
    continues,
    conversation_digest,
    held_turns,
)
from cli_bridge.formats.openai_chat.request import input_from_messages
from cli_bridge.protocol.blocks import CliMessage
from cli_bridge.protocol.events import AssistantBlock, TextDelta

KEY = ProcessKey("opus")


def u(text: str) -> CliMessage:
    return {"role": "user", "content": text}


def a(text: str) -> CliMessage:
    return {"role": "assistant", "content": text}


def held_after(messages: list[dict], reply: str) -> tuple[CliMessage, ...]:
    """What a process that answered `messages` with `reply` holds."""
    cli = input_from_messages(messages)
    return held_turns(cli.history, cli.prompt, reply)


def lookup(messages: list[dict]) -> tuple[CliMessage, ...]:
    """The history a live process must hold to answer `messages`."""
    return input_from_messages(messages).history


def test_the_next_request_finds_the_process_that_answered_the_last():
    first = [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hi"}]
    held = held_after(first, "Salut.")
    follow = [*first, {"role": "assistant", "content": "Salut."}, {"role": "user", "content": "Q"}]
    assert conversation_digest(KEY, lookup(follow)) == conversation_digest(KEY, held)
    # Text parts and a string are one form: the client may resend either.
    parts = [{"type": "text", "text": "Hi"}]
    again = [first[0], {"role": "user", "content": parts}, *follow[2:]]
    assert conversation_digest(KEY, lookup(again)) == conversation_digest(KEY, held)


def test_edited_or_branched_history_never_matches():
    held = held_after([{"role": "user", "content": "a"}], "b")
    base = conversation_digest(KEY, held)
    for edited in (
        [u("a"), a("b ")],  # the reply edited
        [u("a2"), a("b")],  # the question edited
        [u("a"), a("b"), u("c"), a("d")],  # another branch, longer
        [u("a")],
    ):
        assert conversation_digest(KEY, edited) != base, edited
    # A late system message travels in the new user turn (turns.py): the process holding
    # the same history may answer, and it reads the rule.
    late = [u("a"), a("b"), {"role": "system", "content": "new rule"}, u("c")]
    assert conversation_digest(KEY, lookup(late)) == base
    assert input_from_messages(late).prompt != "c"  # the rule travels with the new turn


def test_identical_first_turns_from_two_clients_never_match():
    held = held_turns((), "hello", "hi")
    one = conversation_digest(KEY, held, owner="key-1")
    assert one != conversation_digest(KEY, held, owner="key-2")
    assert one != conversation_digest(KEY, held)
    assert one == conversation_digest(KEY, held_turns((), "hello", "hi"), owner="key-1")
    ids = {conversation_digest(KEY, held, "key-1", c) for c in (None, "c1", "c2")}
    assert len(ids) == 3


def test_only_a_history_that_ends_with_a_reply_can_be_held():
    assert not continues(())
    assert not continues((u("a"),))
    assert continues((u("a"), a("b")))


def test_digest_covers_model_system_prompt_and_exact_history():
    conv = (u("a"), a("b"))
    base = conversation_digest(KEY, conv)
    assert base == conversation_digest(ProcessKey("opus"), list(conv))
    assert base != conversation_digest(ProcessKey("sonnet"), conv)
    assert base != conversation_digest(ProcessKey("opus", "sys"), conv)
    # No separator trick: ("ab",) and ("a", "b") differ.
    assert conversation_digest(KEY, (u("ab"),)) != conversation_digest(KEY, (u("a"), u("b")))


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
