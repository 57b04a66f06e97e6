"""How the text of one CLI turn is joined into one assistant message, on every surface."""

from __future__ import annotations

BLOCK_SEPARATOR = "\n\n"


class TextAssembler:
    """Joins the text of the CLI's content blocks as one assistant message.

    Blocks of one API message are concatenated; separate internal messages of one turn are
    joined with a blank line. Streaming and non-streaming use this same rule.
    """

    def __init__(self) -> None:
        self._last_message: str | None = None
        self._emitted = False
        self._pending_break = False

    def on_block_start(self, message_id: str | None) -> None:
        if self._emitted and message_id != self._last_message:
            self._pending_break = True

    def on_text(self, message_id: str | None, text: str) -> str:
        """The piece to emit for `text` (with a separator when a new message started)."""
        if not text:
            return ""
        if self._emitted and message_id != self._last_message:
            self._pending_break = True
        piece = (BLOCK_SEPARATOR if self._pending_break else "") + text
        self._pending_break = False
        self._emitted = True
        self._last_message = message_id
        return piece
