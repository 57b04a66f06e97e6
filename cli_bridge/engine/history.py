"""Conversations as the live-process reuse sees them: exact history, hashed.

A CLI process that has answered a turn holds that conversation's history itself: the turns
it was started with (a resumed transcript, or none), the user turn it was sent and its own
reply. It may take the next turn only when the new request's history is exactly that (same
model, same system prompt, same owner, the same turns in the hub shape, its own reply
verbatim) and one new user turn follows. Anything less exact (an edited or branched history,
another owner) goes to a fresh process. Pure functions: tested without processes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from ..protocol.blocks import CliMessage, UserContent, as_blocks
from ..protocol.client_tools import ToolSet
from ..protocol.events import AssistantBlock, CliEvent
from ..protocol.instructions import SystemFlag
from ..protocol.text import TextAssembler


@dataclass(frozen=True, slots=True)
class ProcessKey:
    """What a CLI process is fixed to when it starts: model, system slot text and the flag
    that carries it (`replace`: --system-prompt-file, `append`: --append-system-prompt-file),
    and the generation settings it was started with (CLAUDE_CODE_MAX_OUTPUT_TOKENS,
    --effort). Processes are never shared across keys, so never across these settings.
    `output_schema`: the canonical JSON text of a structured-output schema
    (engine/structured.py), sent once at spawn."""

    cli_model: str
    system_prompt: str | None = None
    system_flag: SystemFlag = "replace"
    max_output_tokens: int | None = None
    effort: str | None = None
    output_schema: str | None = None
    tools: ToolSet | None = None

    @property
    def label(self) -> str:
        """For logs and /health: the model and short digests, never the prompt itself."""
        label = self.cli_model
        if self.system_prompt is not None:
            digest = hashlib.sha256(self.system_prompt.encode()).hexdigest()[:8]
            kind = "append" if self.system_flag == "append" else "system"
            label += f"+{kind}:{digest}"
        if self.max_output_tokens is not None:
            label += f"+max_tokens:{self.max_output_tokens}"
        if self.effort is not None:
            label += f"+effort:{self.effort}"
        if self.output_schema is not None:
            label += f"+schema:{hashlib.sha256(self.output_schema.encode()).hexdigest()[:8]}"
        if self.tools is not None:
            label += f"+tools:{self.tools.digest[:8]}"
        return label


def held_turns(
    history: Sequence[CliMessage], prompt: UserContent, reply: str
) -> tuple[CliMessage, ...]:
    """What a process holds once it has answered `prompt` after `history` with `reply`."""
    return (
        *history,
        {"role": "user", "content": prompt},
        {"role": "assistant", "content": reply},
    )


def conversation_digest(
    key: ProcessKey,
    turns: Sequence[CliMessage],
    owner: str | None = None,
    conversation_id: str | None = None,
) -> str:
    """One hash for (model, system prompt, exact turns, who asked, and the client's id).

    `owner` (e.g. the API key's id) keeps one client's live process from another client who
    sends the same visible history: with tools on, a CLI also holds tool results the client
    never saw. `conversation_id` (optional, the client's) tells apart two conversations of
    one owner whose turns are identical so far."""
    canonical = [[t["role"], as_blocks(t["content"])] for t in turns]
    payload = [
        key.cli_model,
        key.system_prompt,
        key.system_flag,
        canonical,
        owner,
        conversation_id,
        key.max_output_tokens,
        key.effort,
    ]
    if key.output_schema is not None:  # never parked today (bridge._park), keyed all the same
        payload.append(key.output_schema)
    if key.tools is not None:
        payload.append(key.tools.digest)
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(data.encode()).hexdigest()


def continues(history: Sequence[CliMessage]) -> bool:
    """Whether a live process could hold `history`: it ends with a reply of the assistant."""
    return bool(history) and history[-1]["role"] == "assistant"


class ReplyText:
    """The assistant text of one turn, joined by the same rule the client's answer uses."""

    def __init__(self) -> None:
        self._assembler = TextAssembler()
        self._parts: list[str] = []

    def feed(self, event: CliEvent) -> None:
        if isinstance(event, AssistantBlock) and event.kind == "text" and not event.is_api_error:
            self._parts.append(self._assembler.on_text(event.message_id, event.text))

    @property
    def text(self) -> str:
        return "".join(self._parts)
