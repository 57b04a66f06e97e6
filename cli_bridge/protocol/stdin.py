"""Lines written to the CLI's `--input-format stream-json` stdin."""

from __future__ import annotations

import json

from .blocks import CliMessage, UserContent


def user_line(content: UserContent) -> bytes:
    """One user turn: text or content blocks, as the CLI reads it."""
    message: CliMessage = {"role": "user", "content": content}
    line = {"type": "user", "message": message}
    return (json.dumps(line, ensure_ascii=False) + "\n").encode()
