"""Generation controls in the surface-neutral form every API surface converts its own to."""

from __future__ import annotations

from dataclasses import dataclass

from ..protocol.argv import CliEffort  # sent upstream as `output_config.effort`

__all__ = ["CliEffort", "GenerationControls"]


@dataclass(frozen=True, slots=True)
class GenerationControls:
    """What of a request shapes the generation. `max_output_tokens` and `effort` are fixed
    when a CLI process starts (part of its key); `stop` is applied to the answer's text."""

    max_output_tokens: int | None = None
    effort: CliEffort | None = None
    stop: tuple[str, ...] = ()
