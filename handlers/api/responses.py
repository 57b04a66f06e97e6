"""POST /v1/responses, GET and DELETE /v1/responses/{id}: OpenAI's Responses surface.

A request becomes one CLI turn through the one request path (turns.answer), with the
conversions of cli_bridge/formats/openai_responses; `previous_response_id` puts the stored
chain's input and output items before this request's input, as real turns. A response is
stored (handlers/store.py) before it is answered unless the request says `store: false`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from starlette.responses import JSONResponse, Response

from cli_bridge.formats.openai_chat.request import input_from_messages
from cli_bridge.formats.openai_responses.request import (
    PREVIOUS,
    Item,
    controls_from_body,
    conversation,
    has_tool_items,
    input_items,
    plan_from_body,
    renamed,
)
from cli_bridge.formats.openai_responses.response import ResponseBuilder, ResponseMeta, new_id
from cli_bridge.formats.openai_responses.stream import ResponsesStreamEncoder

from .. import security, state, turns
from ..images import resolve_images
from ..store import StoredResponse, not_found


def _owner() -> str:
    return security.caller_id() or ""


async def create_response(body: dict[str, Any]) -> Response:
    app = state.current()
    app.catalogue.resolve(body["model"])  # an unknown model is a 404 before the store is read
    items = input_items(body.get("input"))
    controls = controls_from_body(body)
    owner, previous = _owner(), body.get("previous_response_id")
    history: list[Item] = []
    if previous:
        for link in await app.store.chain(previous, owner):
            history += [*link.input_items, *link.output_items]
    plan = plan_from_body(body, has_tool_items([*history, *items]))
    conv = conversation(body.get("instructions"), history, items)
    meta = ResponseMeta.from_body(body, new_id("resp"), int(time.time()))
    structured = plan.output_schema is not None
    keep = body.get("store") is not False

    async def store(response: Mapping[str, Any] | None) -> None:
        if keep and response is not None:
            record = StoredResponse(
                meta.id,
                owner,
                body["model"],
                time.time(),
                previous,
                items,
                list(response["output"]),
                dict(response),
            )
            await app.store.put(record)

    reply: turns.Reply
    if body.get("stream"):
        encoder = ResponsesStreamEncoder(meta, structured=structured, plan=plan)

        async def store_final() -> None:
            await store(encoder.final)

        reply = turns.Streamed(encoder, finished=store_final)
    else:
        reply = turns.Collected(ResponseBuilder(meta, structured=structured, plan=plan), store)

    async def convert() -> turns.TurnInput:
        with renamed(conv.param):
            image = await resolve_images(conv.messages, app.settings)
            cli = input_from_messages(conv.messages, image=image, tools=plan.tools)
        metadata = body.get("metadata")
        named = metadata.get("conversation_id") if isinstance(metadata, dict) else None
        return turns.TurnInput(
            cli.prompt,
            cli.system_prompt,
            cli.history,
            not cli.flattened,
            named.strip() or None if isinstance(named, str) else None,
            output_schema=plan.output_schema,
            tools=plan.tools,
        )

    # The limits count the whole conversation sent, a stored chain's turns included: a long
    # chain is refused naming `previous_response_id` unless `input` alone is over the limit.
    own = conv.from_input() > app.settings.max_messages
    return await turns.answer(
        body["model"],
        conv.messages,
        convert,
        reply,
        param="input" if own or not history else PREVIOUS,
        where=conv.field,
        controls=controls,
    )


async def get_response(response_id: str) -> Response:
    stored = await state.current().store.get(response_id, _owner())
    if stored is None:
        raise not_found(response_id)
    return JSONResponse(stored.response)


async def delete_response(response_id: str) -> Response:
    if not await state.current().store.delete(response_id, _owner()):
        raise not_found(response_id)
    return JSONResponse({"id": response_id, "object": "response", "deleted": True})
