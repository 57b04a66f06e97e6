"""Lines written to the CLI's `--input-format stream-json` stdin."""

from __future__ import annotations

import json

from .blocks import UserContent
from .wire import UserLine


def user_line(content: UserContent) -> bytes:
    """One user turn: text or content blocks, as the CLI reads it."""
    line: UserLine = {"type": "user", "message": {"role": "user", "content": content}}
    return (json.dumps(line, ensure_ascii=False) + "\n").encode()
