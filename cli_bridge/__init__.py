"""Drive the Claude Code CLI (`claude -p`) as a subprocess and speak OpenAI's chat format."""

from .bridge import ClaudeBridge, CliRequest
from .catalogue import Catalogue, ModelEntry
from .config import BridgeConfig
from .errors import ProxyError
from .turn import Turn

__all__ = [
    "BridgeConfig",
    "Catalogue",
    "ClaudeBridge",
    "CliRequest",
    "ModelEntry",
    "ProxyError",
    "Turn",
]
