"""Fuzz OpenAI messages -> hub turns: any valid conversation becomes strictly alternating turns
that pass the Messages API's tool-history rules and keep every text and tool block, in order;
any schema-shaped junk gives turns or an InvalidRequest naming a `param`, nothing else."""

from __future__ import annotations

import itertools
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli_bridge.errors import InvalidRequest
from cli_bridge.formats.openai_chat.turns import ChatTurns, turns_from_messages
from cli_bridge.protocol.history_rules import check_tool_history
from cli_bridge.protocol.transcript import render_transcript

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TOOLS = [{"name": "get_weather", "input_schema": {"type": "object"}}]

text = st.text(min_size=1, max_size=20)
args = st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=3)


@st.composite
def conversations(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[Any]]:
    """A valid conversation, and the atoms (texts, tool ids) the turns must keep, in order."""
    messages: list[dict[str, Any]] = []
    atoms: list[Any] = []
    counter = 0
    for _ in range(draw(st.integers(1, 10))):
        kind = draw(st.sampled_from(["user", "user_parts", "assistant", "calls", "system"]))
        if kind == "user":
            body = draw(text)
            messages.append({"role": "user", "content": body})
            atoms.append(("text", body))
        elif kind == "user_parts":
            bodies = draw(st.lists(text, min_size=1, max_size=3))
            parts = [
                {"type": draw(st.sampled_from(["text", "input_text"])), "text": b} for b in bodies
            ]
            messages.append({"role": "user", "content": parts})
            atoms += [("text", b) for b in bodies]
        elif kind == "system":
            role, body = draw(st.sampled_from(["system", "developer"])), draw(text)
            messages.append({"role": role, "content": body})
            if any(m["role"] not in ("system", "developer") for m in messages):
                atoms.append(("text", f"<{role}_message>\n{body}\n</{role}_message>"))
        elif kind == "assistant":
            body = draw(text)
            messages.append({"role": "assistant", "content": body})
            atoms.append(("text", body))
        else:
            lead = draw(st.none() | text)
            inputs = draw(st.lists(args, min_size=1, max_size=3))
            ids = [f"call_{counter + k}" for k in range(len(inputs))]
            counter += len(inputs)
            calls = [
                {
                    "id": i,
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": json.dumps(a)},
                }
                for i, a in zip(ids, inputs, strict=True)
            ]
            messages.append({"role": "assistant", "content": lead, "tool_calls": calls})
            atoms += [("text", lead)] if lead else []
            atoms += [("tool_use", i, a) for i, a in zip(ids, inputs, strict=True)]
            for i in draw(st.permutations(ids)):
                result = draw(text)
                messages.append({"role": "tool", "tool_call_id": i, "content": result})
                atoms.append(("tool_result", i, result))
    return messages, atoms


def flatten(turns: ChatTurns) -> list[Any]:
    out: list[Any] = []
    for turn in turns.turns:
        content = turn["content"]
        for block in [{"type": "text", "text": content}] if isinstance(content, str) else content:
            if block["type"] == "text":
                out.append(("text", block["text"]))
            elif block["type"] == "tool_use":
                out.append(("tool_use", block["id"], block["input"]))
            elif block["type"] == "tool_result":
                out.append(("tool_result", block["tool_use_id"], block["content"]))
    return out


@FUZZ
@given(conversations())
def test_valid_conversations_become_alternating_valid_turns(
    case: tuple[list[dict[str, Any]], list[Any]],
) -> None:
    messages, atoms = case
    if all(m["role"] in ("system", "developer") for m in messages):
        messages.append({"role": "user", "content": "go"})
        atoms.append(("text", "go"))
    got = turns_from_messages(messages)
    roles = [t["role"] for t in got.turns]
    assert all(a != b for a, b in itertools.pairwise(roles)), roles
    uses_tools = any(a[0] == "tool_use" for a in atoms)
    assert check_tool_history(got.turns, TOOLS if uses_tools else None) is None
    assert flatten(got) == atoms
    leading = [
        m["content"]
        for m in messages[
            : next(i for i, m in enumerate(messages) if m["role"] not in ("system", "developer"))
        ]
    ]
    assert got.system == ("\n\n".join(leading) or None)
    # Whatever converts, the transcript writer takes: one JSON line per turn.
    lines = render_transcript(got.turns, session_id="s", cwd="/w", version="v", model="m")
    assert [json.loads(line)["type"] for line in lines.splitlines()] == roles


ROLES = ["system", "developer", "user", "assistant", "tool", "function", "x"]
PART_TYPES = ["text", "input_text", "output_text", "refusal", "image_url", "input_audio", "file"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
parts = st.fixed_dictionaries(
    {"type": st.sampled_from(PART_TYPES)},
    optional={"text": st.text(max_size=10) | json_values, "refusal": json_values},
)
junk_calls = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "id": st.sampled_from(["c0", "c1"]) | json_values,
            "type": st.sampled_from(["function", "custom"]) | json_values,
            "function": st.fixed_dictionaries(
                {},
                optional={
                    "name": st.text(max_size=5) | json_values,
                    "arguments": st.sampled_from(["{}", '{"a":1}', "[", ""]) | json_values,
                },
            )
            | json_values,
        },
    ),
    max_size=3,
)
junk = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(ROLES)},
        optional={
            "content": st.none() | st.text(max_size=10) | st.lists(parts | json_values, max_size=3),
            "tool_calls": junk_calls | json_values,
            "tool_call_id": st.sampled_from(["c0", "c1"]) | json_values,
            "function_call": json_values,
        },
    ),
    max_size=6,
)


@FUZZ
@given(junk)
def test_junk_gives_turns_or_a_named_refusal(messages: list[dict[str, Any]]) -> None:
    try:
        got = turns_from_messages(messages)
    except InvalidRequest as exc:
        assert exc.param is not None and exc.param.startswith("messages")
        return
    roles = [t["role"] for t in got.turns]
    assert all(a != b for a, b in itertools.pairwise(roles))
    tools = TOOLS if "tool_" in json.dumps(got.turns) else None
    assert check_tool_history(got.turns, tools) is None
