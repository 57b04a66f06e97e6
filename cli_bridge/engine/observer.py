"""A hook for watching CLI turns (metrics) without the bridge knowing who watches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..protocol.events import CliEvent


class TurnObserver(Protocol):
    def watch_turn(self, cli_model: str) -> Callable[[CliEvent], None]:
        """Called as a turn starts; the returned callable gets every parsed CLI event.
        It runs inside the turn, so it must be quick and must not raise."""
        ...
