"""Which directive a fake request obeys, and the scripted agent loop of a `tool_plan`.

A client agent loop sends the prompt (with its `<<fake:...>>` directive) once; every later
upstream request of that turn ends with a user message of tool_result blocks. So a `tool_plan`
directive is looked for in the earlier user messages too, and the rounds already answered are
counted from the history: the fake keeps no state between requests, like the real API.

Pure functions; `fake_anthropic` does the HTTP.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from conformance.fake_replies import DIRECTIVE_RE, last_user_text

REMINDER = "<system-reminder>"


class PlanError(Exception):
    """A plan the fake cannot answer: the message becomes a 400 invalid_request_error."""


@dataclass(frozen=True)
class Directive:
    """The directive's JSON text (None: no directive), and the user message that holds it."""

    raw: str | None
    index: int | None

    def settings(self) -> dict[str, Any] | None:
        """The directive's settings ({} without one); None when it is not a JSON object."""
        if self.raw is None:
            return {}
        try:
            parsed = json.loads(self.raw)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None


def _content(msg: Any) -> list[Any]:
    content = msg.get("content") if isinstance(msg, dict) else None
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return content if isinstance(content, list) else []


def own_text(msg: Any) -> str:
    """The text blocks a user wrote: not tool_result contents (a tool may echo a directive),
    not the CLI's system reminders."""
    parts = [
        block["text"]
        for block in _content(msg)
        if isinstance(block, dict)
        and block.get("type") == "text"
        and isinstance(block.get("text"), str)
        and not block["text"].lstrip().startswith(REMINDER)
    ]
    return "\n".join(parts)


def _is_user(msg: Any) -> bool:
    return isinstance(msg, dict) and msg.get("role") == "user"


def find_directive(messages: list[Any]) -> Directive:
    """The last user message's directive, as ever; failing that, the latest user message whose
    own text carries a directive with a `tool_plan` (the latest, so each turn of a multi-turn
    conversation can bring its own plan). Unparsable directives in earlier messages are skipped:
    only the last message's is refused."""
    users = [i for i, msg in enumerate(messages) if _is_user(msg)]
    if not users:
        return Directive(None, None)
    if match := DIRECTIVE_RE.search(last_user_text(messages)):
        return Directive(match.group(1), users[-1])
    for i in reversed(users):
        for match in DIRECTIVE_RE.finditer(own_text(messages[i])):
            try:
                parsed = json.loads(match.group(1))
            except ValueError:
                continue
            if isinstance(parsed, dict) and parsed.get("tool_plan") is not None:
                return Directive(match.group(1), i)
    return Directive(None, None)


def _has_tool_use(msg: Any) -> bool:
    return any(isinstance(b, dict) and b.get("type") == "tool_use" for b in _content(msg))


def rounds_done(messages: list[Any], since: int) -> int:
    """Assistant messages with tool_use blocks after message `since`: the plan steps answered."""
    return sum(
        1
        for msg in messages[since + 1 :]
        if isinstance(msg, dict) and msg.get("role") == "assistant" and _has_tool_use(msg)
    )


def offered_names(tools: Any) -> list[str]:
    return [str(t["name"]) for t in tools or [] if isinstance(t, dict) and "name" in t]


def resolve_name(name: str, offered: list[str]) -> str | None:
    """The offered tool called `name`, or whose name ends with "__" + name (the CLI offers a
    client tool as mcp__client__<name>); None when there is none."""
    if name in offered:
        return name
    return next((full for full in offered if full.endswith("__" + name)), None)


def result_text(block: dict[str, Any]) -> str:
    content = block.get("content")
    if isinstance(content, str):
        return content
    texts = [b.get("text") for b in content or [] if isinstance(b, dict)]
    return "\n".join(t for t in texts if isinstance(t, str) and not t.startswith(REMINDER))


def tool_results(messages: list[Any]) -> list[str]:
    """The text of every tool_result block of the conversation, in order."""
    return [
        result_text(block)
        for msg in messages
        if _is_user(msg)
        for block in _content(msg)
        if isinstance(block, dict) and block.get("type") == "tool_result"
    ]


def check_plan(plan: Any) -> list[list[dict[str, Any]]]:
    """The plan, checked: a list of steps, each a non-empty list of {"name": str, "input": {}}."""
    ok = isinstance(plan, list) and all(
        isinstance(step, list)
        and step
        and all(
            isinstance(call, dict)
            and isinstance(call.get("name"), str)
            and isinstance(call.get("input", {}), dict)
            for call in step
        )
        for step in plan
    )
    if not ok:
        raise PlanError(f"fake: bad tool_plan {json.dumps(plan)}")
    return plan  # type: ignore[no-any-return]


@dataclass(frozen=True)
class PlanStep:
    """What the plan answers now: `calls` (full names) for step `round`, or the final text."""

    round: int
    steps: int
    calls: list[dict[str, Any]]
    final: str | None

    def log(self) -> dict[str, Any]:
        names = [c["name"] for c in self.calls] if self.final is None else None
        return {"round": self.round, "steps": self.steps, "calls": names}


def plan_step(plan: Any, messages: list[Any], since: int, tools: Any) -> PlanStep:
    """The next step of `plan` given the history after the user message `since`, with each
    bare name matched to an offered tool; once every step is done, the final text reports
    every tool result seen, so a test can assert the model got each one."""
    steps = check_plan(plan)
    done = rounds_done(messages, since)
    if done >= len(steps):
        final = "final: " + " | ".join(tool_results(messages))
        return PlanStep(done, len(steps), [], final)
    offered, calls = offered_names(tools), []
    for call in steps[done]:
        full = resolve_name(call["name"], offered)
        if full is None:
            raise PlanError(f"fake: tool {call['name']} not offered")
        calls.append({"name": full, "input": call.get("input", {})})
    return PlanStep(done, len(steps), calls, None)


def plan_settings(s: dict[str, Any], step: PlanStep) -> dict[str, Any]:
    """Settings that make `plan_blocks` answer `step`: the tool calls (after `tool_text`, if
    any) in one message, or the final text."""
    if step.final is not None:
        return {**s, "blocks": None, "reply": step.final, "tool_use": None}
    text = [] if s.get("tool_text") is None else [str(s["tool_text"])]
    return {**s, "blocks": text, "reply": None, "tool_use": step.calls}
