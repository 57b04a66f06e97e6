"""What the fake Anthropic API answers: settings, per-request directives, reply blocks, usage.

Pure data and functions, so the server module (`fake_anthropic`) only does HTTP and timing.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

DEFAULTS: dict[str, Any] = {
    "reply": None,  # None: "Hello from fake server. model=... messages=... request=..."
    "blocks": None,
    "n_chunks": 3,
    "chunk_delay": 0.0,
    "status": None,
    "fail_count": -1,  # -1: misbehave on every request; N: the first N only
    "error_message": "fake error",
    "fail_headers": {},
    "fail_mid_stream": False,
    "hang": False,
    "hang_before_headers": False,
    "delay_before_headers": 0.0,
    "thinking": None,
    "tool_use": None,  # {"name", "input"}, or a list of them: one message of parallel calls
    # Scripted agent loop (fake_tools): steps of calls, then a text naming every tool result.
    "tool_plan": None,
    "tool_text": None,  # a text block before each step's calls
    "cache_read": 0,
    "cache_creation": 0,
    "output_tokens": None,
    "input_tokens": None,
    "stop_reason": None,  # None: "tool_use" with tool_use, else "end_turn"
    "long": None,
    # Structured output: when the request offers the CLI's StructuredOutput tool, call it with
    # this object; the first `structured_bad` such requests (per directive text) answer text.
    "structured": None,
    "structured_bad": 0,
}
# Keys that make a request misbehave; they are what `fail_count` counts.
FAIL_KEYS = ("status", "fail_status", "fail_mid_stream", "hang", "hang_before_headers")
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
DIRECTIVE_RE = re.compile(r"<<fake:(\{.*?\})>>", re.DOTALL)
# content block type -> (delta type, field streamed in pieces)
DELTAS = {
    "text": ("text_delta", "text"),
    "thinking": ("thinking_delta", "thinking"),
    "tool_use": ("input_json_delta", "partial_json"),
}


LOG_KEYS = ("ts", "method", "path", "query", "headers", "body", "n", "stream", "directive")
LOG_KEYS += ("settings", "misbehaved", "status", "outcome", "usage", "message_id")
LOG_KEYS += ("client_disconnected", "exception", "plan_step")


def redact(headers: dict[str, str]) -> dict[str, str]:
    """Keep header shape for assertions but never log secrets."""
    out: dict[str, str] = {}
    for key, value in headers.items():
        if key.lower() in ("x-api-key", "authorization"):
            value = f"<redacted len={len(value)} prefix={value[:6]!r}>"
        out[key] = value
    return out


def fake_directive(**settings: Any) -> str:
    """Marker to put in a prompt; '>' is escaped so a value can never end the marker early."""
    text = json.dumps(settings, separators=(",", ":"), sort_keys=True)
    return "<<fake:" + text.replace(">", "\\u003e") + ">>"


def last_user_text(messages: list[Any]) -> str:
    """Text of the last role=user message; system-reminder blocks are the CLI's, not the test's."""
    for msg in reversed(messages):
        if not isinstance(msg, dict) or msg.get("role") != "user":
            continue
        content = msg.get("content")
        if isinstance(content, str):
            return content
        parts: list[str] = []
        for block in content if isinstance(content, list) else []:
            if not isinstance(block, dict):
                continue
            inner = block.get("content") if block.get("type") == "tool_result" else [block]
            if isinstance(inner, str):
                parts.append(inner)
                continue
            for b in inner if isinstance(inner, list) else []:
                text = b.get("text") if isinstance(b, dict) else None
                if isinstance(text, str) and not text.lstrip().startswith("<system-reminder>"):
                    parts.append(text)
        return "\n".join(parts)
    return ""


def chunks(text: str, n: int) -> list[str]:
    """Split into at most n nearly equal, non-empty pieces (one empty piece for '')."""
    if not text:
        return [""]
    size = -(-len(text) // max(1, n))
    return [text[i : i + size] for i in range(0, len(text), size)]


def block_stream(block: dict[str, Any], n: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A block as streamed: its content_block_start form (empty text, tool input {}) and its
    deltas, the content cut in `n` pieces (a tool's input as partial JSON, like the real API)."""
    kind = block["type"]
    delta_type, field = DELTAS[kind]
    text = json.dumps(block["input"]) if kind == "tool_use" else block[field]
    pieces = [{"type": delta_type, field: t} for t in chunks(text, n)]
    first = {**block, "input": {}} if kind == "tool_use" else {**block, field: ""}
    if kind == "thinking":
        first["signature"] = ""
        pieces.append({"type": "signature_delta", "signature": block["signature"]})
    return first, pieces


def estimate_tokens(body: Any) -> int:
    """Deterministic stand-in for a token count: a quarter of the JSON size of the prompt."""
    if not isinstance(body, dict):
        return 0
    size = len(json.dumps(body.get("messages") or [])) + len(json.dumps(body.get("system") or ""))
    return size // 4


def plan_blocks(s: dict[str, Any], model: str, n_messages: int, n: int) -> list[dict[str, Any]]:
    """The complete content blocks of the reply; streaming and non-streaming share them."""
    blocks: list[dict[str, Any]] = []
    if s["thinking"]:
        sig = "fakesig_" + uuid.uuid4().hex
        blocks.append({"type": "thinking", "thinking": str(s["thinking"]), "signature": sig})
    if s["blocks"] is not None:
        texts = [str(t) for t in s["blocks"]]
    elif s["reply"] is not None:
        texts = [str(s["reply"])]
    elif s["long"]:
        texts = [" ".join(f"word{i}" for i in range(1, int(s["long"]) + 1))]
    elif s["tool_use"]:
        texts = []
    else:
        texts = [f"Hello from fake server. model={model} messages={n_messages} request={n}"]
    blocks += [{"type": "text", "text": t} for t in texts]
    uses = s["tool_use"] or []
    for tool in uses if isinstance(uses, list) else [uses]:
        tool_id = "toolu_fake_" + uuid.uuid4().hex[:20]
        name, args = str(tool.get("name", "Read")), tool.get("input", {})
        blocks.append({"type": "tool_use", "id": tool_id, "name": name, "input": args})
    return blocks


def build_message(
    s: dict[str, Any], body: dict[str, Any], blocks: list[dict[str, Any]]
) -> dict[str, Any]:
    """The whole Messages API reply; usage as scripted, else estimated from sizes."""
    model = str(body.get("model") or "unknown")
    generated = "".join(b.get("text") or b.get("thinking") or "" for b in blocks)
    generated += "".join(json.dumps(b["input"]) for b in blocks if b["type"] == "tool_use")
    usage = dict(input_tokens=s["input_tokens"], output_tokens=s["output_tokens"])
    if usage["input_tokens"] is None:
        usage["input_tokens"] = estimate_tokens(body)
    if usage["output_tokens"] is None:
        usage["output_tokens"] = len(generated) // 4 + 1
    usage["cache_creation_input_tokens"] = int(s["cache_creation"])
    usage["cache_read_input_tokens"] = int(s["cache_read"])
    stop_reason = s["stop_reason"] or ("tool_use" if s["tool_use"] else "end_turn")
    message = dict(id="msg_fake_" + uuid.uuid4().hex[:20], type="message", role="assistant")
    message.update(model=model, content=blocks, stop_reason=stop_reason, stop_sequence=None)
    message["usage"] = usage
    return message


def settle(
    settings: dict[str, Any],
    directive: dict[str, Any],
    raw: str | None,
    failures: dict[str, int],
    stream: bool,
    body: dict[str, Any],
) -> tuple[dict[str, Any], bool]:
    """One request's settings and whether it misbehaves, counting into `failures` (the caller
    holds the lock). Only misbehaviour that applies to this kind of request counts towards
    fail_count: globally, or per directive text when the directive brings its own."""
    s = {**DEFAULTS, **settings, **directive}
    if s.get("fail_status") and not s.get("status"):
        s["status"] = s["fail_status"]
    bad = bool(s["status"] or s["hang_before_headers"])
    bad = bad or (stream and bool(s["fail_mid_stream"] or s["hang"]))
    key = raw if raw is not None and any(k in directive for k in FAIL_KEYS) else ""
    if bad:
        done = failures.get(key, 0)
        bad = s["fail_count"] < 0 or done < s["fail_count"]
        if bad:
            failures[key] = done + 1
    if s["structured"] is not None and offers_tool(body, STRUCTURED_TOOL):
        tally = "structured:" + (raw or "")
        done = failures.get(tally, 0)
        failures[tally] = done + 1
        s = structured_settings(s, bad=done < int(s["structured_bad"]))
    return s, bad


STRUCTURED_TOOL = "StructuredOutput"  # what the CLI offers for a JSON schema (claude-cli.md §14)


def offers_tool(body: dict[str, Any], name: str) -> bool:
    tools = body.get("tools")
    return any(isinstance(t, dict) and t.get("name") == name for t in tools or [])


def structured_settings(s: dict[str, Any], bad: bool) -> dict[str, Any]:
    """Settings that answer the StructuredOutput tool with `s["structured"]`, or (bad) with
    text that is not even JSON, which leaves the CLI without a structured result."""
    if bad:
        return {**s, "reply": "this is not JSON {", "tool_use": None}
    return {**s, "tool_use": {"name": STRUCTURED_TOOL, "input": s["structured"]}}
