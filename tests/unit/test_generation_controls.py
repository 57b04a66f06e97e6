"""Generation controls without processes: the body check, the stop matcher, the turn cut at a
stop sequence or the output limit, and the per-process settings (key, argv, environment)."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cli_bridge import CliRequest
from cli_bridge.engine.history import ProcessKey, conversation_digest
from cli_bridge.errors import InvalidRequest
from cli_bridge.formats.controls import GenerationControls
from cli_bridge.formats.openai_chat.controls import EFFORTS, controls_from_body
from cli_bridge.formats.openai_chat.response import ChunkBuilder, CompletionBuilder
from cli_bridge.formats.stops import StopMatcher, cut_at_stop
from cli_bridge.protocol.argv import build_argv
from cli_bridge.protocol.environment import MAX_OUTPUT_TOKENS, child_env
from cli_bridge.protocol.events import (
    AssistantBlock,
    BlockStart,
    CliEvent,
    MessageDelta,
    MessageStart,
    Result,
    TextDelta,
)
from handlers.stopping import StopAtSequences
from tests.unit.test_sse import END, FakeTurn


# --- the body check ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "param"),
    [
        ({"logprobs": True}, "logprobs"),
        ({"top_logprobs": 2}, "top_logprobs"),
        ({"modalities": ["audio"]}, "modalities"),
        ({"audio": {"voice": "alloy", "format": "wav"}}, "audio"),
        ({"n": 2}, "n"),
        ({"n": 128}, "n"),
        ({"web_search_options": {}}, "web_search_options"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_completion_tokens": -5}, "max_completion_tokens"),
        ({"reasoning_effort": "extreme"}, "reasoning_effort"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"stop": [1]}, "stop"),
    ],
)
def test_refused_options_name_their_parameter(options: dict[str, Any], param: str):
    with pytest.raises(InvalidRequest) as caught:
        controls_from_body({"model": "opus", "messages": [], **options})
    assert caught.value.param == param
    assert caught.value.status == 400


HARMLESS: dict[str, Any] = {
    "temperature": 0.3,
    "top_p": 0.5,
    "seed": 1,
    "presence_penalty": 1,
    "frequency_penalty": 1,
    "logit_bias": {"1": 5},
    "user": "u",
    "store": True,
    "metadata": {"a": "b"},
    "service_tier": "flex",
    "prediction": {"type": "content", "content": "x"},
    "verbosity": "low",
    "logprobs": False,
    "top_logprobs": 0,
    "modalities": ["text"],
    "audio": None,
    "n": 1,
    "web_search_options": None,
}


def test_harmless_options_change_nothing():
    assert controls_from_body(HARMLESS) == GenerationControls()


def test_honoured_options():
    body = {"max_tokens": 10, "max_completion_tokens": 20, "reasoning_effort": "high"}
    controls = controls_from_body({**body, "stop": ["END", "", "END", "x"]})
    assert controls == GenerationControls(20, "high", ("END", "x"))
    assert controls_from_body({"max_tokens": 10, "stop": "\n"}) == GenerationControls(
        10, None, ("\n",)
    )


def test_every_openai_effort_maps_to_a_cli_level():
    levels = {"low", "medium", "high", "xhigh", "max"}
    assert set(EFFORTS) == {"none", "minimal", "low", "medium", "high", "xhigh", "max"}
    assert set(EFFORTS.values()) == levels
    for effort in EFFORTS:
        assert controls_from_body({"reasoning_effort": effort}).effort == EFFORTS[effort]


# --- the stop matcher ----------------------------------------------------------------------
def feed_all(stops: list[str], pieces: list[str]) -> tuple[str, StopMatcher]:
    matcher = StopMatcher(stops)
    out = "".join(matcher.feed(p) for p in pieces)
    return out + matcher.flush(), matcher


def test_stop_across_pieces_is_held_back_then_cut():
    matcher = StopMatcher(["END"])
    assert matcher.feed("abc E") == "abc "
    assert matcher.held == "E"
    assert matcher.feed("N") == ""
    assert matcher.feed("Dxyz") == ""
    assert matcher.hit == "END"
    assert matcher.feed("more") == "" and matcher.flush() == ""


def test_a_false_start_is_released():
    matcher = StopMatcher(["END"])
    assert matcher.feed("aE") == "a"
    assert matcher.feed("Nx") == "ENx"
    assert matcher.flush() == "" and matcher.hit is None


def test_only_a_possible_start_is_held():
    matcher = StopMatcher(["stop here"])
    assert matcher.feed("hello world") == "hello world"
    assert matcher.feed(" st") == " "
    assert matcher.held == "st"


def test_the_sequence_complete_first_wins():
    assert feed_all(["abcd", "bc"], ["abcd"])[0] == "a"
    assert feed_all(["abcd", "bcd"], list("abcd"))[0] == ""
    assert cut_at_stop("xxabcd", ["abcd", "bc"]) == "xxa"


TEXT = st.text(alphabet="abE\nND", max_size=40)


@given(
    text=TEXT,
    stops=st.lists(st.text(alphabet="abEND\n", min_size=1, max_size=4), min_size=1, max_size=4),
    cuts=st.lists(st.integers(min_value=0, max_value=40), max_size=8),
)
def test_streamed_cut_equals_the_whole_text_cut(text: str, stops: list[str], cuts: list[int]):
    bounds = sorted({0, len(text), *(min(c, len(text)) for c in cuts)})
    pieces = [text[a:b] for a, b in itertools.pairwise(bounds)]
    matcher = StopMatcher(stops)
    released = ""
    for piece in pieces:
        released += matcher.feed(piece)
        assert len(matcher.held) <= max(map(len, stops)) - 1
        assert not any(s in released for s in stops), "a stop sequence was released"
    expected = cut_at_stop(text, stops)
    assert released + matcher.flush() == expected
    assert (matcher.hit is not None) == any(s in text for s in stops)


# --- the turn cut short --------------------------------------------------------------------
def result(stop_reason: str = "end_turn", text: str = "") -> Result:
    usage = {"input_tokens": 3, "output_tokens": 4}
    return Result("success", False, text, usage, stop_reason, "completed", None, [], "s")  # type: ignore[arg-type]


def streamed(texts: list[str], mid: str = "msg_1") -> list[CliEvent]:
    events: list[CliEvent] = [MessageStart(mid, "opus"), BlockStart(mid, 0, "text")]
    events += [TextDelta(mid, 0, t) for t in texts]
    events.append(AssistantBlock(mid, "text", "".join(texts)))
    return events


async def drain(turn: StopAtSequences) -> list[CliEvent]:
    out: list[CliEvent] = []
    while (event := await turn.next(timeout=1)) is not None:
        out.append(event)
    return out


def answers(events: list[CliEvent]) -> tuple[str, str | None, str, str | None]:
    """(streamed text, finish reason, collected text, finish reason) of these events."""
    chunks, whole = ChunkBuilder("c", 1, "opus"), CompletionBuilder("c", 1, "opus")
    text = ""
    end = next(e for e in events if isinstance(e, Result))
    for event in events[: events.index(end)]:
        for chunk in chunks.feed(event):
            text += chunk["choices"][0]["delta"].get("content") or ""
        whole.feed(event)
    finish = chunks.finish(end)[0]["choices"][0]["finish_reason"]
    built = whole.build(end)["choices"][0]
    return text, finish, built["message"]["content"], built["finish_reason"]


def run(turn: StopAtSequences) -> list[CliEvent]:
    return asyncio.run(drain(turn))


def test_stop_cuts_both_surfaces_and_cancels_the_cli_turn():
    inner = FakeTurn(*streamed(["Hello wor", "ld. STO", "P and more"]), result(), END)
    events = run(StopAtSequences(inner, ("STOP",)))
    assert answers(events) == ("Hello world. ", "stop", "Hello world. ", "stop")
    assert inner.cancelled, "the CLI turn is killed at the stop"
    assert events[-1].stop_reason == "stop_sequence"  # type: ignore[attr-defined]


def test_without_a_hit_the_answer_is_unchanged_with_the_cli_result():
    end = result("end_turn", "all of it")
    inner = FakeTurn(*streamed(["all ", "of i", "t"]), end, END)
    events = run(StopAtSequences(inner, ("ZZZ",)))
    assert answers(events) == ("all of it", "stop", "all of it", "stop")
    assert events[-1] is end and not inner.cancelled


def test_messages_are_joined_before_matching():
    second = streamed(["x", "y"], "msg_2")
    inner = FakeTurn(*streamed(["one"]), *second, result(), END)
    events = run(StopAtSequences(inner, ("e\n\nx",)))
    assert answers(events)[0] == "on"
    inner = FakeTurn(*streamed(["one"]), *second, result(), END)
    assert answers(run(StopAtSequences(inner, ("Q",))))[::2] == ("one\n\nxy", "one\n\nxy")


def test_an_unstreamed_message_is_matched_too():
    inner = FakeTurn(MessageStart(None, "opus"), AssistantBlock("m9", "text", "a|b"), result(), END)
    assert answers(run(StopAtSequences(inner, ("|",))))[::2] == ("a", "a")


def test_the_first_message_at_the_limit_ends_the_turn_as_length():
    events_in = [*streamed(["cut ", "shor"]), MessageDelta("msg_1", "max_tokens")]
    inner = FakeTurn(*events_in, *streamed(["resumed"], "msg_2"), result(), END)
    events = run(StopAtSequences(inner, ("sh-",), at_length=True))
    assert answers(events) == ("cut shor", "length", "cut shor", "length")
    assert inner.cancelled


def test_the_limit_is_left_alone_when_not_asked_for():
    events_in = [*streamed(["cut"]), MessageDelta("msg_1", "max_tokens")]
    inner = FakeTurn(*events_in, *streamed(["resumed"], "msg_2"), result(), END)
    assert answers(run(StopAtSequences(inner, ("Q",))))[0] == "cut\n\nresumed"


# --- per-process settings --------------------------------------------------------------------
def test_settings_are_part_of_the_process_key_and_digest():
    base = CliRequest("opus", "hi")
    limited = CliRequest("opus", "hi", max_output_tokens=50)
    effort = CliRequest("opus", "hi", effort="high")
    keys = {base.key, limited.key, effort.key}
    assert len(keys) == 3
    assert limited.key == ProcessKey("opus", max_output_tokens=50)
    assert limited.key.label == "opus+max_tokens:50"
    assert effort.key.label == "opus+effort:high"
    turns = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
    digests = {conversation_digest(k, turns) for k in keys}  # type: ignore[arg-type]
    assert len(digests) == 3


def test_effort_reaches_argv_and_the_limit_the_environment(tmp_path: Path):
    argv = build_argv("claude", "opus", effort="xhigh")
    assert argv[argv.index("--effort") + 1] == "xhigh"
    assert "--effort" not in build_argv("claude", "opus")
    with pytest.raises(ValueError):
        build_argv("claude", "opus", effort="--evil")
    env = child_env({MAX_OUTPUT_TOKENS: "9"}, {MAX_OUTPUT_TOKENS: "10"}, max_output_tokens=50)
    assert env[MAX_OUTPUT_TOKENS] == "50"
    assert child_env({}, {MAX_OUTPUT_TOKENS: "10"})[MAX_OUTPUT_TOKENS] == "10"
    assert MAX_OUTPUT_TOKENS not in child_env({}, {})
