"""What an open tool call is answered with (no `mcp` import: the engine uses it on every path)."""

from __future__ import annotations

from dataclasses import dataclass

NOT_RUN = "Not run: the client takes one tool call at a time; call it again on its own."
GONE = "Not run: the conversation ended before the client answered this call."


@dataclass(frozen=True, slots=True)
class ToolAnswer:
    """The client's result (plain text, as the model is to see it), or the proxy's error."""

    text: str
    is_error: bool = False
