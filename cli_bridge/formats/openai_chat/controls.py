"""A chat request's generation options: which are honoured, which refused, which ignored.

Honoured: `max_completion_tokens` / `max_tokens` (the CLI's output limit), `reasoning_effort`
(the CLI's `--effort`) and `stop` (the answer is cut before the first stop sequence).
Refused with a 400 naming the parameter, because the answer could not be what the client
asked for: log probabilities, audio output, more than one choice, web search. Accepted and
ignored, because the answer is still a faithful one without them: sampling knobs
(`temperature`, `top_p`, `seed`, penalties, `logit_bias`), `prediction` (a speed hint),
`verbosity`, `moderation` and bookkeeping (`user`, `store`, `metadata`, `service_tier`, …).
Pure functions over the validated body: tested without processes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...errors import InvalidRequest
from ..controls import CliEffort, GenerationControls

# OpenAI's reasoning_effort -> the CLI's --effort levels (`claude --help`: low, medium, high,
# xhigh, max). The CLI has no level below `low`, so `none` and `minimal` ask for the least.
EFFORTS: dict[str, CliEffort] = {
    "none": "low",
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "xhigh",
    "max": "max",
}


def _refuse(param: str, why: str) -> InvalidRequest:
    return InvalidRequest(f"`{param}` is not supported by this proxy: {why}", param=param)


def check_unsupported(body: Mapping[str, Any]) -> None:
    """Refuse options whose answer this proxy cannot produce, naming the first one found."""
    if body.get("logprobs"):
        raise _refuse("logprobs", "the Claude CLI reports no log probabilities")
    if body.get("top_logprobs"):
        raise _refuse("top_logprobs", "the Claude CLI reports no log probabilities")
    if "audio" in (body.get("modalities") or ()):
        raise _refuse("modalities", "only text output is produced")
    if body.get("audio") is not None:
        raise _refuse("audio", "only text output is produced")
    n = body.get("n")
    if n is not None and n != 1:
        raise _refuse("n", "one choice is produced per request; send n requests instead")
    if body.get("web_search_options") is not None:
        raise _refuse("web_search_options", "the model has no web search here")


def _token_limit(body: Mapping[str, Any]) -> int | None:
    """`max_completion_tokens` wins over the deprecated `max_tokens` when both are set."""
    for param in ("max_completion_tokens", "max_tokens"):
        value = body.get(param)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidRequest(f"`{param}` must be a positive integer", param=param)
        return value
    return None


def _stop_sequences(value: object) -> tuple[str, ...]:
    """A string or up to 4 strings (openapi.yaml checked the shape); empty ones stop nothing."""
    if value is None:
        return ()
    given = [value] if isinstance(value, str) else value
    if not isinstance(given, list) or not all(isinstance(s, str) for s in given):
        raise InvalidRequest("`stop` must be a string or an array of strings", param="stop")
    if len(given) > 4:
        raise InvalidRequest("`stop` holds at most 4 sequences", param="stop")
    return tuple(dict.fromkeys(s for s in given if s))


def controls_from_body(body: Mapping[str, Any]) -> GenerationControls:
    """Check the body's generation options and return the ones the proxy honours."""
    check_unsupported(body)
    effort = body.get("reasoning_effort")
    if effort is not None and effort not in EFFORTS:
        raise InvalidRequest(
            f"`reasoning_effort` must be one of {', '.join(EFFORTS)}", param="reasoning_effort"
        )
    return GenerationControls(
        max_output_tokens=_token_limit(body),
        effort=EFFORTS[effort] if effort is not None else None,
        stop=_stop_sequences(body.get("stop")),
    )
