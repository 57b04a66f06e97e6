"""A Messages request's generation options: which are honoured, refused or ignored.

Honoured: `max_tokens` (required, as the API requires it: the CLI's output limit),
`stop_sequences` (the answer is cut before the first one, and `stop_sequence` names it) and
`output_config.effort` (the CLI's `--effort`). `thinking` is accepted: the model thinks as
the CLI has it think; it decides only whether thinking blocks are returned (`enabled` or
`adaptive`: yes; otherwise they are left out). Refused (400): `output_format` /
`output_config.format` (structured outputs), which this surface does not produce yet.
Ignored, since the answer is still a faithful one without them: `temperature`, `top_p`,
`top_k`, `metadata`, `service_tier`, `container`, `context_management`, `mcp_servers`.
Pure functions over the validated body.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...errors import InvalidRequest
from ..controls import CliEffort, GenerationControls

EFFORTS: dict[str, CliEffort] = {
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "xhigh",
    "max": "max",
}
SHOWN_THINKING = ("enabled", "adaptive")


def _refuse(param: str, why: str) -> InvalidRequest:
    return InvalidRequest(f"`{param}` is not supported by this proxy: {why}", param=param)


def controls_from_body(body: Mapping[str, Any]) -> GenerationControls:
    """Check the body's options and return the ones the proxy honours."""
    limit = body.get("max_tokens")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidRequest("`max_tokens` must be a positive integer", param="max_tokens")
    config = body.get("output_config") or {}
    if not isinstance(config, dict):
        raise InvalidRequest("`output_config` must be an object", param="output_config")
    if body.get("output_format") is not None:
        raise _refuse("output_format", "structured outputs are served on /v1/chat/completions")
    if config.get("format") is not None:
        raise _refuse(
            "output_config.format", "structured outputs are served on /v1/chat/completions"
        )
    effort = config.get("effort")
    if effort is not None and effort not in EFFORTS:
        raise InvalidRequest(
            f"`output_config.effort` must be one of {', '.join(EFFORTS)}",
            param="output_config.effort",
        )
    stops = body.get("stop_sequences") or []
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise InvalidRequest("`stop_sequences` must be an array of strings", param="stop_sequences")
    return GenerationControls(
        max_output_tokens=limit,
        effort=EFFORTS[effort] if effort is not None else None,
        stop=tuple(dict.fromkeys(s for s in stops if s)),
    )


def shows_thinking(body: Mapping[str, Any]) -> bool:
    """Whether the client asked for thinking blocks (`thinking.type` enabled or adaptive)."""
    thinking = body.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in SHOWN_THINKING
