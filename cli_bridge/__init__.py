"""Drive the Claude Code CLI (`claude -p`) as a subprocess: the engine, the CLI protocol, and
one pair of conversions per API surface (`formats/`)."""

from .catalogue import Catalogue, ModelEntry
from .engine.bridge import ClaudeBridge
from .engine.config import BridgeConfig
from .engine.request import CliRequest
from .engine.turn import Turn
from .errors import ProxyError

__all__ = [
    "BridgeConfig",
    "Catalogue",
    "ClaudeBridge",
    "CliRequest",
    "ModelEntry",
    "ProxyError",
    "Turn",
]
