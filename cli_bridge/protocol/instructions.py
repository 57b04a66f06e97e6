"""Where a client's system and developer text goes: the system slot, or the first user turn.

`--system-prompt-mode` picks one of three placements:

- `user` (default): the proxy's short base prompt fills the CLI's system slot (the same for
  every client, so the warm pool is keyed by model alone), and the client's instructions
  open the FIRST user turn as an `<instructions>` block. Exactly: the text
  `<instructions>\\n{client text}\\n</instructions>`, then a blank line and the turn's own
  text for a string turn; for a content-block turn, a leading text block holding the
  instructions block alone. Nothing in the client's text is escaped: it is the client's own.
- `append`: the client's text follows Claude Code's own system prompt
  (`--append-system-prompt-file`).
- `replace`: the client's text is the system prompt (`--system-prompt-file`).

Pure functions over the hub shapes (blocks.py): tested without processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias, get_args

from .blocks import CliMessage, ContentBlock, TextBlock, UserContent

SystemPromptMode: TypeAlias = Literal["user", "append", "replace"]
# How the CLI receives the system slot's text: `--system-prompt-file` or
# `--append-system-prompt-file`.
SystemFlag: TypeAlias = Literal["replace", "append"]
MODES: tuple[SystemPromptMode, ...] = get_args(SystemPromptMode)

DEFAULT_BASE_PROMPT = (
    "You are Claude, answering requests that applications send through an API proxy. "
    "An application's own instructions, when it gives any, open the first user message "
    "inside <instructions> tags; follow them as you would a system prompt."
)


@dataclass(frozen=True, slots=True)
class SystemSlot:
    """What the CLI process is started with: the text (None: Claude Code's own prompt
    alone) and the flag that carries it. Part of the process key."""

    text: str | None
    flag: SystemFlag = "replace"


def system_slot(mode: SystemPromptMode, client_system: str | None, base: str) -> SystemSlot:
    """The system slot for one request; an empty `base` in `user` mode means none."""
    if mode == "user":
        return SystemSlot(base or None)
    if not client_system:
        return SystemSlot(None)
    return SystemSlot(client_system, "append" if mode == "append" else "replace")


def instructions_block(system: str) -> str:
    return f"<instructions>\n{system}\n</instructions>"


def with_instructions(system: str | None, content: UserContent) -> UserContent:
    """A user turn's content with the instructions block in front (unchanged if none)."""
    if not system:
        return content
    block = instructions_block(system)
    if isinstance(content, str):
        return f"{block}\n\n{content}" if content else block
    lead: TextBlock = {"type": "text", "text": block}
    blocks: list[ContentBlock] = [lead, *content]
    return blocks


def into_first_user_turn(system: str | None, turns: Sequence[CliMessage]) -> list[CliMessage]:
    """Hub turns with the instructions in the first user turn (a new list; inputs untouched).
    With no user turn at all the turns are returned as they are: the caller puts the
    instructions into the new user message instead."""
    out = list(turns)
    for i, turn in enumerate(out):
        if turn["role"] == "user":
            out[i] = {"role": "user", "content": with_instructions(system, turn["content"])}
            break
    return out


def has_user_turn(turns: Sequence[CliMessage]) -> bool:
    return any(turn["role"] == "user" for turn in turns)
