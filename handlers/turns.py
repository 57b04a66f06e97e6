"""The one request path every API surface takes: a validated body -> one CLI turn -> its answer.

A surface's handler supplies only what is its own: the model id and message list it was sent,
a conversion of its request into CLI input, and how to answer (an SSE encoder or a JSON
collector). Everything else is here, in this order: resolve the model, label the request's
metrics with it, check the limits, convert, build the CLI request with its owner, start the
turn, answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeAlias

from connexion import request as current_request
from starlette.responses import Response

from cli_bridge import CliRequest
from cli_bridge.protocol.blocks import Conversation, UserContent
from cli_bridge.protocol.instructions import (
    SystemFlag,
    SystemPromptMode,
    into_conversation,
    system_slot,
    with_instructions,
)

from . import limits, security, state
from .errors import surface_for_path
from .middleware import access
from .sse import StreamEncoder, open_stream
from .turn_response import Collector, TurnResponse


@dataclass(frozen=True, slots=True)
class TurnInput:
    """A request converted for the CLI: the prompt on stdin, the system prompt, and the plain
    history when there is one (a live process holding it may answer)."""

    prompt: UserContent
    system_prompt: str | None = None
    conversation: Conversation | None = None
    system_flag: SystemFlag = "replace"  # set by `place_instructions`


def place_instructions(given: TurnInput, mode: SystemPromptMode, base: str) -> TurnInput:
    """Apply `--system-prompt-mode` (cli_bridge/protocol/instructions.py) to a converted
    request. In `user` mode the client's system text opens the first user turn: the prompt
    (one user turn on stdin, history included) and the plain history the live-process
    digest hashes, so conversations whose instructions differ never share a process."""
    slot = system_slot(mode, given.system_prompt, base)
    if mode != "user" or not given.system_prompt:
        return replace(given, system_prompt=slot.text, system_flag=slot.flag)
    prompt = with_instructions(given.system_prompt, given.prompt)
    conversation = given.conversation
    if conversation is not None:
        conversation = into_conversation(given.system_prompt, conversation)
    return TurnInput(prompt, slot.text, conversation, slot.flag)


@dataclass(frozen=True, slots=True)
class Streamed:
    """Answer with an SSE stream of `encoder`'s events."""

    encoder: StreamEncoder


@dataclass(frozen=True, slots=True)
class Collected:
    """Answer with one JSON body built by `collector`."""

    collector: Collector


Reply: TypeAlias = Streamed | Collected


async def answer(
    model: str,
    messages: Sequence[Any],
    convert: Callable[[], TurnInput],
    reply: Reply,
    *,
    param: str = "messages",
) -> Response:
    """Run one turn for `model` and answer it as `reply` says.

    `messages` (found at `param` in the body) is what the limits count; `convert` runs after
    them, so an oversized request is refused before any conversion work.
    """
    app = state.current()
    entry = app.catalogue.resolve(model)
    access.note_model(entry.id)
    limits.check_messages(
        messages,
        param=param,
        max_messages=app.settings.max_messages,
        max_chars=app.settings.max_message_chars,
    )
    settings = app.settings
    given = place_instructions(convert(), settings.system_prompt_mode, settings.base_system_prompt)
    cli_request = CliRequest(
        entry.cli_model,
        given.prompt,
        given.system_prompt,
        conversation=given.conversation,
        owner=security.caller_id(),
        system_flag=given.system_flag,
    )
    turn = app.bridge.start_turn(cli_request)
    if isinstance(reply, Collected):
        return TurnResponse(turn, reply.collector)
    return await open_stream(
        turn,
        reply.encoder,
        surface=surface_for_path(current_request.url.path),
        keepalive=app.settings.keepalive_interval,
    )
