"""Conversations as the live-process reuse sees them: exact history, hashed.

A CLI process that has answered a turn holds that conversation's history itself. It may take
the next turn only when the new request repeats exactly what the process holds (same model,
same system prompt, same messages, the process's own reply verbatim) and adds one user
message. Anything less exact (tool messages, names, edited history) goes to a fresh process.
Pure functions: tested without processes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from ..protocol.blocks import Conversation
from ..protocol.events import AssistantBlock, CliEvent
from ..protocol.instructions import SystemFlag
from ..protocol.text import TextAssembler


@dataclass(frozen=True, slots=True)
class ProcessKey:
    """What a CLI process is fixed to when it starts: model, system slot text and the flag
    that carries it (`replace`: --system-prompt-file, `append`: --append-system-prompt-file).
    Processes are never shared across keys, so never across system settings."""

    cli_model: str
    system_prompt: str | None = None
    system_flag: SystemFlag = "replace"

    @property
    def label(self) -> str:
        """For logs and /health: the model and a short digest, never the prompt itself."""
        if self.system_prompt is None:
            return self.cli_model
        digest = hashlib.sha256(self.system_prompt.encode()).hexdigest()[:8]
        kind = "append" if self.system_flag == "append" else "system"
        return f"{self.cli_model}+{kind}:{digest}"


def continuation(conversation: Conversation) -> tuple[Conversation, str] | None:
    """(history a live process must hold, the new user text), or None for a first turn."""
    if len(conversation) < 3:
        return None
    (prev_role, _), (role, text) = conversation[-2], conversation[-1]
    if prev_role != "assistant" or role != "user" or not text.strip():
        return None
    return conversation[:-1], text


def conversation_digest(
    key: ProcessKey, conversation: Conversation, owner: str | None = None
) -> str:
    """One hash for (model, system prompt, exact history, and who asked).

    `owner` (e.g. the API key's id) keeps one client's live process from another client who
    sends the same visible history: with tools on, a CLI also holds tool results the
    client never saw."""
    turns = [list(t) for t in conversation]
    payload = [key.cli_model, key.system_prompt, key.system_flag, turns, owner]
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(data.encode()).hexdigest()


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
