"""GET /v1/models and /v1/models/{model}: the catalogue, in OpenAI's shape."""

from __future__ import annotations

from typing import Literal, TypedDict

from cli_bridge import ModelEntry

from .. import state


class ModelObject(TypedDict):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class ModelList(TypedDict):
    object: Literal["list"]
    data: list[ModelObject]


def model_object(entry: ModelEntry, model_id: str | None = None) -> ModelObject:
    """OpenAI's `model` object; `model_id` answers with the id as the client spelled it."""
    return {
        "id": model_id or entry.id,
        "object": "model",
        "created": entry.created,
        "owned_by": entry.owned_by,
    }


async def list_models() -> ModelList:
    catalogue = state.current().catalogue
    return {"object": "list", "data": [model_object(entry) for entry in catalogue.entries()]}


async def retrieve_model(model: str) -> ModelObject:
    return model_object(state.current().catalogue.resolve(model), model)
