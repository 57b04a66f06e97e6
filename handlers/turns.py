"""The one request path every API surface takes: a validated body -> one CLI turn -> its answer.

A surface's handler supplies only what is its own: the model id and message list it was sent,
a conversion of its request into CLI input, and how to answer (an SSE encoder or a JSON
collector). Everything else is here, in this order: resolve the model, label the request's
metrics with it, check the limits, convert, build the CLI request with its owner, start the
turn, answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeAlias

from connexion import request as current_request
from starlette.responses import Response

from cli_bridge import CliRequest
from cli_bridge.formats.controls import GenerationControls
from cli_bridge.protocol.blocks import CliMessage, UserContent
from cli_bridge.protocol.client_tools import ToolSet
from cli_bridge.protocol.instructions import (
    SystemFlag,
    SystemPromptMode,
    has_user_turn,
    into_first_user_turn,
    system_slot,
    with_instructions,
)

from . import limits, security, state
from .errors import surface_for_path
from .middleware import access
from .sse import StreamEncoder, open_stream
from .stopping import StopAtSequences
from .turn_response import Collector, RunningTurn, TurnResponse


@dataclass(frozen=True, slots=True)
class TurnInput:
    """A request converted for the CLI: the new user turn (stdin), the system prompt, and the
    turns before it in the hub shape (a live process holding them answers, else a fresh one
    resumes them). `continuable` is False when `prompt` renders a whole conversation as text."""

    prompt: UserContent
    system_prompt: str | None = None
    history: tuple[CliMessage, ...] = ()
    continuable: bool = True
    conversation_id: str | None = None  # from the body (e.g. `metadata.conversation_id`)
    system_flag: SystemFlag = "replace"  # set by `place_instructions`
    output_schema: str | None = None  # structured output: the schema's canonical JSON text
    tools: ToolSet | None = None  # the client's tools offered to the model


def place_instructions(given: TurnInput, mode: SystemPromptMode, base: str) -> TurnInput:
    """Apply `--system-prompt-mode` (cli_bridge/protocol/instructions.py) to a converted
    request. In `user` mode the client's system text opens the first user turn of the
    conversation — of the history when it has one, else the new turn — so it is part of the
    turns a live process is matched by: conversations whose instructions differ never share
    a process."""
    slot = system_slot(mode, given.system_prompt, base)
    if mode != "user" or not given.system_prompt:
        return replace(given, system_prompt=slot.text, system_flag=slot.flag)
    if has_user_turn(given.history):
        history = tuple(into_first_user_turn(given.system_prompt, given.history))
        return replace(given, history=history, system_prompt=slot.text, system_flag=slot.flag)
    prompt = with_instructions(given.system_prompt, given.prompt)
    return replace(given, prompt=prompt, system_prompt=slot.text, system_flag=slot.flag)


@dataclass(frozen=True, slots=True)
class Streamed:
    """Answer with an SSE stream of `encoder`'s events. `finished`: awaited once the
    encoder has built its last payloads, before they are sent (the Responses store writes
    the answer there; a ProxyError it raises becomes the stream's error event)."""

    encoder: StreamEncoder
    finished: Callable[[], Awaitable[None]] | None = None


@dataclass(frozen=True, slots=True)
class Collected:
    """Answer with one JSON body built by `collector`. `finished`: awaited with the body
    before it is sent (a ProxyError it raises is the answer instead)."""

    collector: Collector
    finished: Callable[[Mapping[str, Any]], Awaitable[None]] | None = None


Reply: TypeAlias = Streamed | Collected

CONVERSATION_HEADER = "x-conversation-id"
NO_CONTROLS = GenerationControls()


def conversation_header() -> str | None:
    """`X-Conversation-Id`: the client's name for its conversation, never required. Requests
    with the same id and owner prefer the same live process; without it, matching the exact
    history alone still finds it."""
    value = current_request.headers.get(CONVERSATION_HEADER, "").strip()
    return value or None


async def answer(
    model: str,
    messages: Sequence[Any],
    convert: Callable[[], Awaitable[TurnInput]],
    reply: Reply,
    *,
    param: str = "messages",
    where: Callable[[int], str] | None = None,
    controls: GenerationControls = NO_CONTROLS,
) -> Response:
    """Run one turn for `model` and answer it as `reply` says.

    `messages` (found at `param` in the body, message i at `where(i)`) is what the limits
    count — the whole conversation sent, not only the request's new part; `convert` runs after
    them, so an unknown model or an oversized request is refused before any conversion work
    (image downloads included). `controls`: the
    output limit and effort the CLI process is started with, and the stop sequences the
    answer is cut at (stopping.py).
    """
    app = state.current()
    entry = app.catalogue.resolve(model)
    access.note_model(entry.id)
    limits.check_messages(
        messages,
        param=param,
        where=where,
        max_messages=app.settings.max_messages,
        max_chars=app.settings.max_message_chars,
    )
    settings = app.settings
    converted = await convert()
    given = place_instructions(converted, settings.system_prompt_mode, settings.base_system_prompt)
    cli_request = CliRequest(
        entry.cli_model,
        given.prompt,
        given.system_prompt,
        history=given.history,
        owner=security.caller_id(),
        system_flag=given.system_flag,
        continuable=given.continuable,
        conversation_id=given.conversation_id or conversation_header(),
        max_output_tokens=controls.max_output_tokens,
        effort=controls.effort,
        output_schema=given.output_schema,
        tools=given.tools,
    )
    turn: RunningTurn = app.bridge.start_turn(cli_request)
    # A structured answer is the whole checked object or an error: never cut (the model's own
    # text, where a stop sequence could show, is not part of it).
    cut = controls.stop or controls.max_output_tokens is not None
    if cut and given.output_schema is None:
        turn = StopAtSequences(turn, controls.stop, controls.max_output_tokens is not None)
    if isinstance(reply, Collected):
        return TurnResponse(turn, reply.collector, reply.finished)
    return await open_stream(
        turn,
        reply.encoder,
        surface=surface_for_path(current_request.url.path),
        keepalive=app.settings.keepalive_interval,
        finished=reply.finished,
    )
