"""Lines written to the CLI's `--input-format stream-json` stdin."""

from __future__ import annotations

import json
import uuid

from .blocks import UserContent
from .wire import JsonObject, UserLine


def user_line(content: UserContent) -> bytes:
    """One user turn: text or content blocks, as the CLI reads it."""
    line: UserLine = {"type": "user", "message": {"role": "user", "content": content}}
    return (json.dumps(line, ensure_ascii=False) + "\n").encode()


def initialize_line(json_schema: JsonObject) -> bytes:
    """The SDK's `initialize` control request with `jsonSchema`: the CLI then offers the model
    its `StructuredOutput` tool exactly as `--json-schema` does (checked with 2.1.332), and a
    client's schema never goes on argv. The CLI answers with a `control_response` line."""
    request = {"subtype": "initialize", "jsonSchema": json_schema}
    line = {"type": "control_request", "request_id": f"init-{uuid.uuid4().hex}", "request": request}
    return (json.dumps(line, ensure_ascii=False) + "\n").encode()
