"""OpenAI `response_format` -> the schema of a structured-output turn (engine/structured.py).

`json_schema` uses the client's schema (`strict` or not, the answer is checked against it);
`json_object` a permissive `{"type": "object"}`; `text` (or none) is a plain turn.
"""

from __future__ import annotations

from typing import Any

from ...engine.structured import canonical_schema, schema_problem
from ...errors import InvalidRequest

PERMISSIVE: dict[str, Any] = {"type": "object"}


def output_schema(response_format: Any) -> str | None:
    """The canonical schema text for `CliRequest.output_schema`, or None for free text.
    Raises InvalidRequest (param `response_format`) for a schema the CLI cannot enforce."""
    if not isinstance(response_format, dict):
        return None
    kind = response_format.get("type")
    if kind == "json_object":
        return canonical_schema(PERMISSIVE)
    if kind != "json_schema":
        return None
    spec = response_format.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, dict) else None
    if not isinstance(schema, dict):
        raise InvalidRequest(
            "response_format.json_schema.schema is required for type json_schema",
            param="response_format",
        )
    problem = schema_problem(schema)
    if problem is not None:
        raise InvalidRequest(
            f"response_format.json_schema.schema: {problem}", param="response_format"
        )
    return canonical_schema(schema)
