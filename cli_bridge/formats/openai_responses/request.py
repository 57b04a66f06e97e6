"""An OpenAI Responses request -> the conversation, tools and controls of one CLI turn.

Input items map onto the shapes the chat conversions already turn into hub turns
(openai_chat/request.py, turns.py), so both surfaces share one set of rules for real turns,
instructions, images, tool history checks and flattening:

- `message` items (or bare `{role, content}`): `user` / `system` / `developer` content
  (a string or `input_text` / `input_image` parts) and `assistant` content (a string or
  `output_text` / `refusal` parts) as messages of that role;
- `function_call` items: tool calls of the assistant turn they follow (consecutive calls are
  one turn), `call_id` as the tool_use id, named as the model saw them when tools are offered;
- `function_call_output` items: the tool results answering them (`output` a string or
  `input_text` parts);
- `instructions`: the system text, before everything (never carried over from a previous
  response, as OpenAI documents).

A 400 of the shared conversions names the Responses field (`input.3.content.0.type`, not
`messages.…`); what came from a stored response (`previous_response_id`) names that.
`tools`, `tool_choice`, `text.format`, `max_output_tokens` and `reasoning.effort` are
translated to their chat forms and checked by the chat pieces (tools.py, controls.py).
Pure functions: tested without processes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ...errors import InvalidRequest
from ..controls import GenerationControls
from ..openai_chat.controls import EFFORTS
from ..openai_chat.request import ChatMessage
from ..openai_chat.tools import ToolPlan, tool_plan

Item = dict[str, Any]
MESSAGE_ROLES = ("user", "assistant", "system", "developer")
PREVIOUS = "previous_response_id"
T = TypeVar("T")


def input_items(value: object) -> list[Item]:
    """`input` as a list of items: a string is one user message."""
    if value is None:
        return []
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    if not isinstance(value, list) or not all(isinstance(i, dict) for i in value):
        raise InvalidRequest("`input` must be a string or an array of input items", param="input")
    return list(value)


@dataclass(slots=True)
class Conversation:
    """The chat-shaped messages, and for each param prefix of them the Responses field it
    came from (`messages.2` -> `input.4`, `messages.2.tool_calls.0` -> `input.5`)."""

    messages: list[ChatMessage] = field(default_factory=list)
    origins: dict[str, str] = field(default_factory=dict)

    def add(self, message: ChatMessage, origin: str) -> None:
        self.origins[f"messages.{len(self.messages)}"] = origin
        self.messages.append(message)

    def param(self, param: str | None) -> str | None:
        """A chat param (`messages.3.content.1`) as the Responses field it came from."""
        return responses_param(param, self.origins)

    def field(self, index: int) -> str:
        """The Responses field message `index` came from (`input.4`, `instructions`,
        `previous_response_id`)."""
        return self.origins.get(f"messages.{index}", "input")

    def from_input(self) -> int:
        """How many of the messages came from this request's `input` (not from
        `instructions` or a stored chain)."""
        return sum(1 for i in range(len(self.messages)) if self.field(i).startswith("input"))


def _function_call(conv: Conversation, item: Item, where: str) -> None:
    call_id, name = item.get("call_id"), item.get("name")
    if not isinstance(call_id, str) or not call_id:
        raise InvalidRequest(
            "a function_call item needs a string `call_id`", param=f"{where}.call_id"
        )
    if not isinstance(name, str) or not name:
        raise InvalidRequest("a function_call item needs a string `name`", param=f"{where}.name")
    arguments = item.get("arguments", "")
    call = {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
    last = conv.messages[-1] if conv.messages else None
    if last is None or last["role"] != "assistant":
        conv.add({"role": "assistant", "content": None, "tool_calls": []}, where)
        last = conv.messages[-1]
    calls = last.get("tool_calls")
    if not isinstance(calls, list):
        calls = []
        last["tool_calls"] = calls
    conv.origins[f"messages.{len(conv.messages) - 1}.tool_calls.{len(calls)}"] = where
    calls.append(call)


def _function_output(conv: Conversation, item: Item, where: str) -> None:
    call_id = item.get("call_id")
    if not isinstance(call_id, str) or not call_id:
        raise InvalidRequest(
            "a function_call_output item needs a string `call_id`", param=f"{where}.call_id"
        )
    output = item.get("output")
    if not isinstance(output, str | list):
        raise InvalidRequest(
            "`output` must be a string or an array of content parts", param=f"{where}.output"
        )
    conv.add({"role": "tool", "tool_call_id": call_id, "content": output}, where)
    conv.origins[f"messages.{len(conv.messages) - 1}.content"] = f"{where}.output"


def add_items(conv: Conversation, items: Sequence[Item], origin: Callable[[int], str]) -> None:
    """Append `items` to the conversation; `origin(i)`: the param of item i."""
    for i, item in enumerate(items):
        where = origin(i)
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            if role not in MESSAGE_ROLES:
                raise InvalidRequest(
                    f"message role must be one of {', '.join(MESSAGE_ROLES)}", param=f"{where}.role"
                )
            content = item.get("content")
            if not isinstance(content, str | list):
                raise InvalidRequest(
                    "content must be a string or an array of content parts",
                    param=f"{where}.content",
                )
            conv.add({"role": role, "content": content}, where)
        elif kind == "function_call":
            _function_call(conv, item, where)
        elif kind == "function_call_output":
            _function_output(conv, item, where)
        else:
            raise InvalidRequest(
                f"input item type `{kind}` is not supported by this proxy; send `message`, "
                "`function_call` or `function_call_output` items",
                param=f"{where}.type",
            )


def conversation(
    instructions: object, history: Sequence[Item], items: Sequence[Item]
) -> Conversation:
    """The whole conversation: `instructions`, the stored chain's items (`history`, from
    `previous_response_id`), then this request's `input` items."""
    conv = Conversation()
    if instructions is not None:
        if not isinstance(instructions, str):
            raise InvalidRequest("`instructions` must be a string", param="instructions")
        if instructions:
            conv.add({"role": "system", "content": instructions}, "instructions")
    add_items(conv, history, lambda _: PREVIOUS)
    add_items(conv, items, lambda i: f"input.{i}")
    if not any(m["role"] not in ("system", "developer") for m in conv.messages):
        raise InvalidRequest("`input` must hold at least one message or item", param="input")
    return conv


# Suffixes whose Responses name differs from the chat name they were converted to.
_SUFFIXES = (
    (".function.arguments", ".arguments"),
    (".function.name", ".name"),
    (".tool_call_id", ".call_id"),
)


def responses_param(param: str | None, origins: Mapping[str, str]) -> str | None:
    """A chat param (`messages.3.content.1`) as the Responses field it came from."""
    if param is None:
        return None
    if param == "messages":
        return "input"
    prefixes = [p for p in origins if param == p or param.startswith(p + ".")]
    if not prefixes:
        return param
    best = max(prefixes, key=len)
    target, rest = origins[best], param[len(best) :]
    if target in (PREVIOUS, "instructions"):
        return target
    for chat, ours in _SUFFIXES:
        if rest.startswith(chat):
            rest = ours + rest[len(chat) :]
    return target + rest


@contextmanager
def renamed(rename: Callable[[str | None], str | None]) -> Iterator[None]:
    """Re-raise a chat conversion's 400 with the param named for this surface."""
    try:
        yield
    except InvalidRequest as exc:
        exc.param = rename(exc.param)
        raise


def renamed_call(rename: Callable[[str | None], str | None], fn: Callable[[], T]) -> T:
    with renamed(rename):
        return fn()


_TOOL_PARAM = re.compile(r"^tools\.(\d+)\.function(\.|$)")


def _tools_param(param: str | None) -> str | None:
    if param is None:
        return None
    if param == "response_format":
        return "text.format"
    return _TOOL_PARAM.sub(lambda m: f"tools.{m.group(1)}{m.group(2)}", param).rstrip(".")


def _chat_tool(tool: object) -> object:
    if not isinstance(tool, dict) or tool.get("type") != "function":
        return tool  # refused by tool_plan, naming tools.N.type
    fn = {k: tool[k] for k in ("name", "description", "parameters", "strict") if k in tool}
    return {"type": "function", "function": fn}


def _chat_choice(choice: object) -> object:
    if isinstance(choice, dict) and choice.get("type") == "function" and "name" in choice:
        return {"type": "function", "function": {"name": choice["name"]}}
    return choice


def _chat_format(text: object) -> object:
    fmt = text.get("format") if isinstance(text, dict) else None
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        spec = {k: fmt[k] for k in ("name", "schema", "strict", "description") if k in fmt}
        return {"type": "json_schema", "json_schema": spec}
    return fmt


def plan_from_body(body: Mapping[str, Any], tool_history: bool) -> ToolPlan:
    """`tools`, `tool_choice`, `parallel_tool_calls` and `text.format` through the chat
    tool_plan (400s name `tools.N.name`, `tool_choice`, `text.format`)."""
    tools = body.get("tools")
    chat = {
        "tools": [_chat_tool(t) for t in tools] if isinstance(tools, list) else tools,
        "tool_choice": _chat_choice(body.get("tool_choice")),
        "parallel_tool_calls": body.get("parallel_tool_calls"),
        "response_format": _chat_format(body.get("text")),
    }
    return renamed_call(_tools_param, lambda: tool_plan(chat, tool_history))


def _refuse(param: str, why: str) -> InvalidRequest:
    return InvalidRequest(f"`{param}` is not supported by this proxy: {why}", param=param)


def controls_from_body(body: Mapping[str, Any]) -> GenerationControls:
    """`max_output_tokens` and `reasoning.effort`; a 400 for what cannot be honoured."""
    if body.get("background"):
        raise _refuse("background", "responses are answered while the request waits")
    if body.get("conversation") is not None:
        raise _refuse("conversation", "use `previous_response_id` to continue a conversation")
    if body.get("prompt") is not None:
        raise _refuse("prompt", "send the prompt's text as `input` or `instructions`")
    if body.get("top_logprobs"):
        raise _refuse("top_logprobs", "the Claude CLI reports no log probabilities")
    if "message.output_text.logprobs" in (body.get("include") or ()):
        raise _refuse("include", "the Claude CLI reports no log probabilities")
    limit = body.get("max_output_tokens")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InvalidRequest(
            "`max_output_tokens` must be a positive integer", param="max_output_tokens"
        )
    reasoning = body.get("reasoning")
    effort = reasoning.get("effort") if isinstance(reasoning, dict) else None
    if effort is not None and effort not in EFFORTS:
        raise InvalidRequest(
            f"`reasoning.effort` must be one of {', '.join(EFFORTS)}", param="reasoning.effort"
        )
    return GenerationControls(
        max_output_tokens=limit, effort=EFFORTS[effort] if effort is not None else None
    )


def has_tool_items(items: Sequence[Item]) -> bool:
    return any(i.get("type") in ("function_call", "function_call_output") for i in items)
