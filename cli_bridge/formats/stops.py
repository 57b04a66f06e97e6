"""Stop sequences over streamed text: release what is surely before the first stop sequence.

The CLI cannot be told the client's stop sequences (it has no such flag), so the proxy cuts
the answer itself. Text arrives in pieces; a piece may end with the start of a stop sequence
that the next piece completes, so only that much is held back: the longest end of the text
so far that begins some stop sequence (never more than the longest sequence minus one
character). Pure: tested without processes, surface-neutral (OpenAI `stop`, Anthropic
`stop_sequences`).
"""

from __future__ import annotations

from collections.abc import Iterable


class StopMatcher:
    """Feed text pieces in order; `feed` returns what may be sent on. Once a stop sequence is
    complete, `hit` is that sequence and nothing from its start on is ever released."""

    def __init__(self, stops: Iterable[str]) -> None:
        self.stops = tuple(s for s in stops if s)
        self.hit: str | None = None
        self._held = ""

    @property
    def held(self) -> str:
        """Text received but not yet released (it may begin a stop sequence)."""
        return self._held

    def _holdback(self, text: str) -> int:
        """Length of the longest end of `text` that is a proper start of a stop sequence."""
        longest = 0
        for stop in self.stops:
            for k in range(min(len(stop) - 1, len(text)), longest, -1):
                if text.endswith(stop[:k]):
                    longest = k
                    break
        return longest

    def feed(self, piece: str) -> str:
        if self.hit is not None:
            return ""
        text = self._held + piece
        at, stop = _first_stop(text, self.stops)
        if stop is not None:
            self.hit, self._held = stop, ""
            return text[:at]
        keep = self._holdback(text)
        self._held = text[len(text) - keep :]
        return text[: len(text) - keep]

    def flush(self) -> str:
        """The text is complete: what was held back could not begin a stop after all."""
        rest, self._held = ("" if self.hit is not None else self._held), ""
        return rest


def _first_stop(text: str, stops: Iterable[str]) -> tuple[int, str | None]:
    """Where the stop sequence that is complete first in `text` begins, and which it is (the
    longer one when two end together), as generation would meet it: so the cut is the same
    however the text was split into pieces."""
    found = [(i + len(s), i, s) for s in stops if s and (i := text.find(s)) >= 0]
    if not found:
        return len(text), None
    _, at, stop = min(found)
    return at, stop


def cut_at_stop(text: str, stops: Iterable[str]) -> str:
    """The whole-text form: `text` up to the stop sequence that is complete first."""
    return text[: _first_stop(text, stops)[0]]
