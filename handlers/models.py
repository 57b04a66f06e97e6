"""GET /v1/models and /v1/models/{model}: the catalogue, in OpenAI's shape."""

from __future__ import annotations

from typing import Any

from . import state


async def list_models() -> dict[str, Any]:
    catalogue = state.current().catalogue
    return {"object": "list", "data": [entry.to_openai() for entry in catalogue.entries()]}


async def retrieve_model(model: str) -> dict[str, Any]:
    entry = state.current().catalogue.resolve(model)
    return {**entry.to_openai(), "id": model}
