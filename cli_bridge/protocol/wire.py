"""The CLI's stream-json wire objects that the bridge reads or writes, as TypedDicts.

A parsed line is a `JsonObject` (values unchecked) until a parser in events.py has checked the
fields it keeps; only checked values ever land in these TypedDicts. Pure: no I/O.
"""

from __future__ import annotations

from typing import Literal, TypeAlias, TypedDict

from .blocks import CliMessage

# What `json.loads` can return; a parsed line is a JsonObject whose values are unchecked.
JsonValue: TypeAlias = "bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None"
JsonObject: TypeAlias = dict[str, JsonValue]


class OutputTokensDetails(TypedDict, total=False):
    thinking_tokens: int


class Usage(TypedDict, total=False):
    """The token counts of a `result` line's `usage` (Anthropic's names); a count the CLI
    left out or sent as a non-integer is absent."""

    input_tokens: int
    output_tokens: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int
    output_tokens_details: OutputTokensDetails


USAGE_COUNTS: tuple[
    Literal[
        "input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"
    ],
    ...,
] = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


class UserLine(TypedDict):
    """One line of `--input-format stream-json` stdin: a user turn."""

    type: Literal["user"]
    message: CliMessage
