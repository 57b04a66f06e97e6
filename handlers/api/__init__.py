"""Route handlers: the operationId targets of openapi.yaml, one module per resource. Thin:
request -> bridge call -> response.

openapi.yaml names operations as OpenAI's spec does (`createChatCompletion`); `route_for` finds
the function of the same name in snake case among the routes below, so the spec never
hard-codes a module path.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from connexion.resolver import Resolver

from .chat import create_chat_completion
from .dashboard import get_dashboard, get_dashboard_asset, get_dashboard_status
from .health import get_health
from .messages import count_tokens, create_message
from .metrics import get_metrics
from .models import list_models, retrieve_model
from .responses import create_response, delete_response, get_response

ROUTES: dict[str, Callable[..., Any]] = {
    fn.__name__: fn
    for fn in (
        create_chat_completion,
        create_message,
        count_tokens,
        create_response,
        delete_response,
        get_response,
        get_dashboard,
        get_dashboard_asset,
        get_dashboard_status,
        get_health,
        get_metrics,
        list_models,
        retrieve_model,
    )
}


def snake_case(operation_id: str) -> str:
    """`createChatCompletion` -> `create_chat_completion`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation_id).lower()


def route_for(operation_id: str) -> Callable[..., Any]:
    name = snake_case(operation_id)
    if name not in ROUTES:
        raise ValueError(f"openapi.yaml names operation {operation_id!r}, handlers.api has none")
    return ROUTES[name]


resolver = Resolver(function_resolver=route_for)
