"""Structured output: a turn whose answer must be a JSON object valid against a schema.

The CLI offers the model a `StructuredOutput` tool with the schema, checks the call itself
and ends the turn with `result.structured_output` (claude-cli.md §14). When the model never
makes a valid call, the CLI still ends with a "success" result without it. The proxy checks
the object again with `jsonschema` (the client relies on it), runs the turn once more if it
is missing or invalid, and otherwise fails with an error: never invalid output as success.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING

from ..errors import ProxyError
from ..protocol.events import CliEvent, Result
from ..protocol.wire import JsonObject

if TYPE_CHECKING:
    import jsonschema.protocols

log = logging.getLogger("cli_bridge.structured")

ATTEMPTS = 2  # the turn, and one retry
MAX_SCHEMA_CHARS = 64_000


class StructuredOutputFailed(ProxyError):
    """The model gave no object valid against the schema, after the retry."""

    status = 502
    type = "server_error"
    code = "invalid_structured_output"


def schema_problem(schema: JsonObject) -> str | None:
    """Why `schema` cannot be used for structured output, or None. The CLI needs a JSON object,
    the upstream a tool input schema of type object, and `jsonschema` a valid schema."""
    if schema.get("type") != "object":
        return 'the schema\'s root must have "type": "object"'
    if len(canonical_schema(schema)) > MAX_SCHEMA_CHARS:
        return f"the schema is longer than {MAX_SCHEMA_CHARS} characters as JSON"
    import jsonschema.exceptions

    try:
        _validator_class(schema).check_schema(schema)
    except jsonschema.exceptions.SchemaError as exc:
        return f"not a valid JSON Schema: {exc.message}"
    return None


def _validator_class(schema: JsonObject) -> type[jsonschema.protocols.Validator]:
    # Imported here: `cli_bridge` is also the replay CLI's package, installed without deps.
    import jsonschema.validators

    return jsonschema.validators.validator_for(schema)


def canonical_schema(schema: JsonObject) -> str:
    """One text per schema (ProcessKey.output_schema): equal schemas share processes."""
    return json.dumps(schema, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def output_problem(schema: JsonObject, result: Result) -> str | None:
    """Why `result` carries no usable answer for `schema`, or None."""
    value = result.structured_output
    if value is None:
        return "the model did not call StructuredOutput"
    import jsonschema.exceptions
    import referencing

    # An empty registry: a `$ref` the schema does not hold itself is an error, never fetched
    # (jsonschema's default registry still fetches remote URLs: a request forgery).
    validator = _validator_class(schema)(schema, registry=referencing.Registry())
    try:
        error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    except Exception as exc:  # e.g. an unresolvable $ref: nothing to vouch for
        return f"the schema could not be applied: {exc!r}"
    return None if error is None else f"not valid against the schema: {error.message}"


def output_text(result: Result) -> str:
    """The checked object as the answer's text (JSON)."""
    return json.dumps(result.structured_output, ensure_ascii=False)


async def checked_events(
    events: Callable[[], AsyncGenerator[CliEvent, None]], schema: JsonObject
) -> AsyncGenerator[CliEvent, None]:
    """The events of `events()`, whose `Result` is yielded only with a valid object; one retry
    (a fresh run of the turn) when it has none. Clients of a structured turn show nothing but
    the object, so what came before it is safe to run again."""
    problem = "no result"
    for attempt in range(ATTEMPTS):
        async with contextlib.aclosing(events()) as stream:
            async for event in stream:
                if not isinstance(event, Result):
                    yield event
                    continue
                problem = output_problem(schema, event) or ""
                if not problem:
                    yield event
                    return
                log.info("structured output attempt %d: %s", attempt + 1, problem)
                break
    raise StructuredOutputFailed(
        f"The model gave no valid structured output after {ATTEMPTS} attempts: {problem}"
    )
