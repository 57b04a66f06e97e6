"""Structured output for the replay CLI: a JSON schema (`--json-schema`, or `jsonSchema` in an
`initialize` control request on stdin) makes a successful result carry `structured_output`,
as the real CLI's does (claude-cli.md §14). The object is a simple guess at the smallest one
the schema allows (required properties, minimal values). Standard library only, as the whole
replay CLI (it is installed without dependencies): the guess is not validated here, the proxy
checks it like any CLI's answer and refuses one that does not fit.
"""

from __future__ import annotations

import copy
import json

from ..protocol.wire import JsonObject, JsonValue
from .transcripts import StdoutLine

MAX_DEPTH = 32


def _resolve(root: JsonObject, ref: str) -> JsonValue:
    """A local `#/...` reference inside `root`; anything else is an empty schema."""
    if not ref.startswith("#"):
        return {}
    node: JsonValue = root
    for part in (p for p in ref[1:].split("/") if p):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}


def simplest(schema: JsonValue, root: JsonObject, depth: int = 0) -> JsonValue:
    """A small instance of `schema`: required properties only, minimal values."""
    if not isinstance(schema, dict) or depth > MAX_DEPTH:
        return None
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return simplest(_resolve(root, ref), root, depth + 1)
    for key in ("const", "default"):
        if key in schema:
            return copy.deepcopy(schema[key])
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return copy.deepcopy(enum[0])
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            return simplest(options[0], root, depth + 1)
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) and kind else kind
    if kind == "object" or "properties" in schema:
        props = schema.get("properties")
        props = props if isinstance(props, dict) else {}
        required = schema.get("required")
        names = [n for n in required if isinstance(n, str)] if isinstance(required, list) else []
        return {n: simplest(props.get(n, {}), root, depth + 1) for n in names}
    if kind == "array":
        count = schema.get("minItems")
        count = count if isinstance(count, int) and 0 < count <= 16 else 0
        return [simplest(schema.get("items", {}), root, depth + 1) for _ in range(count)]
    if kind == "string":
        size = schema.get("minLength")
        return "x" * (size if isinstance(size, int) and 0 < size <= 1000 else 0)
    if kind in ("integer", "number"):
        low = schema.get("minimum")
        return low if isinstance(low, int | float) and not isinstance(low, bool) else 0
    if kind == "boolean":
        return False
    return None


def structured_output(schema: JsonObject) -> JsonObject | None:
    """The object a replayed `result` carries for `schema`, or None when the guess is none."""
    value = simplest(schema, schema)
    return value if isinstance(value, dict) else None


def schema_from_flag(text: str | None) -> JsonObject | None:
    """`--json-schema '<json>'` as the real CLI takes it (a JSON object)."""
    if not text:
        return None
    value = json.loads(text)
    return value if isinstance(value, dict) else None


def with_structured(events: list[StdoutLine], schema: JsonObject | None) -> list[StdoutLine]:
    """The events with each successful `result` answering `schema`, as the real CLI's does."""
    if schema is None:
        return events
    value = structured_output(schema)
    out: list[StdoutLine] = []
    for event in events:
        if isinstance(event, dict) and event.get("type") == "result" and not event.get("is_error"):
            event = {**event, "stop_reason": "tool_use"}
            if value is not None:
                text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
                event.update(result=text, structured_output=value)
        out.append(event)
    return out


def control_response(line: JsonObject) -> JsonObject | None:
    """The answer to a stdin `control_request` (only `initialize` is known), or None."""
    request = line.get("request")
    if line.get("type") != "control_request" or not isinstance(request, dict):
        return None
    ok = request.get("subtype") == "initialize"
    response: JsonObject = {"subtype": "success" if ok else "error"}
    response["request_id"] = line.get("request_id")
    if ok:
        response["response"] = {}
    else:
        response["error"] = f"unsupported control request {request.get('subtype')!r}"
    return {"type": "control_response", "response": response}
