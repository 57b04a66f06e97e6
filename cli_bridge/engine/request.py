"""What the bridge is asked for: one CLI turn, all of it already checked and converted."""

from __future__ import annotations

from dataclasses import dataclass

from ..protocol.blocks import CliMessage, UserContent
from ..protocol.client_tools import ToolSet
from ..protocol.instructions import SystemFlag
from .history import ProcessKey


@dataclass(frozen=True, slots=True)
class CliRequest:
    """What one CLI turn needs: all of it already checked and converted."""

    cli_model: str
    prompt: UserContent  # the new user turn (stdin; tool results answer open calls instead)
    system_prompt: str | None = None
    # The turns before it, hub-shaped: a live process holding exactly these answers, else a
    # fresh process resumes a transcript of them (never the warm pool: it holds none).
    history: tuple[CliMessage, ...] = ()
    # Who asked (an API key id, once keys exist): live processes are never shared across.
    owner: str | None = None
    # How the CLI gets `system_prompt` (instructions.py): --system-prompt-file or --append-….
    system_flag: SystemFlag = "replace"
    # False when the prompt already renders a history as text: no later request continues
    # that conversation, so its process is not kept.
    continuable: bool = True
    # The client's own name for the conversation (optional): two conversations of one owner
    # with identical turns so far keep a live process each.
    conversation_id: str | None = None
    # Generation settings a process is started with (part of its key): the upstream's
    # `max_tokens` (CLAUDE_CODE_MAX_OUTPUT_TOKENS) and `output_config.effort` (--effort).
    max_output_tokens: int | None = None
    effort: str | None = None
    # Structured output (structured.py): the schema's canonical JSON text; per process.
    output_schema: str | None = None
    # The client's tools, offered through the proxy's MCP server (cli_bridge/tools); per
    # process. When `prompt` holds tool_result blocks, they answer the calls a live process
    # has open, else the history is resumed with them (tool_turns.py).
    tools: ToolSet | None = None

    @property
    def key(self) -> ProcessKey:
        return ProcessKey(
            self.cli_model,
            self.system_prompt,
            self.system_flag,
            max_output_tokens=self.max_output_tokens,
            effort=self.effort,
            output_schema=self.output_schema,
            tools=self.tools,
        )
