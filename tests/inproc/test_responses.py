"""/v1/responses in-process (the replay CLI answers): the SDK's create and stream, GET and
DELETE, responses kept per API key, a broken store as a 503 (chat unaffected), refusals
that never start a CLI, and the message limits counting a stored chain."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import openai
import pytest

from handlers.config.settings import Settings
from tests.contract import Contract
from tests.inproc.conftest import InProcessProxy, assert_no_cli, in_process

KEY_A = "sk-responses-key-a-123456"
KEY_B = "sk-responses-key-b-654321"


def test_create_stream_get_delete(app: InProcessProxy):
    sdk = app.sdk()
    created = sdk.responses.create(model="sonnet", input="hello responses")
    assert created.status == "completed" and "hello responses" in created.output_text
    with sdk.responses.stream(
        model="sonnet", input="and more", previous_response_id=created.id
    ) as stream:
        final = stream.get_final_response()
    assert "and more" in final.output_text and final.previous_response_id == created.id
    assert sdk.responses.retrieve(final.id).output_text == final.output_text
    sdk.responses.delete(final.id)
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(final.id)
    with pytest.raises(openai.NotFoundError):
        sdk.responses.delete(final.id)


def test_store_false_is_never_written(app: InProcessProxy):
    created = app.sdk().responses.create(model="sonnet", input="forget me", store=False)
    r = app.client.get(f"/v1/responses/{created.id}")
    assert r.status_code == 404 and r.json()["error"]["type"] == "invalid_request_error"


def test_responses_belong_to_their_api_key(app_settings: Settings, tmp_path: Path):
    settings = replace(app_settings, api_keys=(KEY_A, KEY_B), data_dir=tmp_path)
    with in_process(settings) as running:
        mine = running.sdk(KEY_A).responses.create(model="sonnet", input="secret")
        other = running.sdk(KEY_B)
        with pytest.raises(openai.NotFoundError):
            other.responses.retrieve(mine.id)
        with pytest.raises(openai.NotFoundError) as caught:
            other.responses.create(model="sonnet", input="x", previous_response_id=mine.id)
        assert caught.value.body["param"] == "previous_response_id"
        assert running.sdk(KEY_A).responses.retrieve(mine.id).id == mine.id


def test_a_corrupt_store_is_a_503_and_chat_still_works(
    app_settings: Settings, tmp_path: Path, contract: Contract, caplog
):
    (tmp_path / "responses.sqlite3").write_bytes(b"garbage, not sqlite" * 64)
    settings = replace(app_settings, data_dir=tmp_path)
    with in_process(settings) as running:
        r = running.client.post("/v1/responses", json={"model": "sonnet", "input": "hi"})
        assert r.status_code == 503 and r.json()["error"]["code"] == "store_unavailable"
        r = running.client.get("/v1/responses/resp_x")
        assert r.status_code == 503
        # streamed: the answer cannot be stored, so it does not end as a success
        stream = {"model": "sonnet", "input": "hi", "stream": True}
        r = running.client.post("/v1/responses", json=stream)
        kinds = [e["type"] for e in contract.check_responses_sse(r.text)]
        assert kinds[-2:] == ["error", "response.failed"] and "response.completed" not in kinds
        # store: false needs no store
        r = running.client.post(
            "/v1/responses", json={"model": "sonnet", "input": "hi", "store": False}
        )
        assert r.status_code == 200
        chat = running.sdk().chat.completions.create(
            model="sonnet", messages=[{"role": "user", "content": "still here"}]
        )
        assert "still here" in (chat.choices[0].message.content or "")
    assert any("response store" in rec.getMessage() for rec in caplog.records)


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"input": [{"type": "item_reference", "id": "x"}]}, "input.0.type"),
        ({"tools": [{"type": "file_search"}]}, "tools.0.type"),
        ({"background": True}, "background"),
        ({"text": {"format": {"type": "json_schema", "name": "n", "schema": {"type": "string"}}}},
         "text.format"),
    ],
)  # fmt: skip
def test_refusals_name_the_field_and_start_no_cli(app: InProcessProxy, replay_log, extra, param):
    marker = f"refused-{param}"
    body = {"model": "sonnet", "input": f"hi {marker}", **extra}
    r = app.client.post("/v1/responses", json=body)
    assert r.status_code == 400 and r.json()["error"]["param"] == param
    assert_no_cli(replay_log, marker)


def test_the_limits_count_the_chain_previous_response_id_rebuilds(
    app_settings: Settings, tmp_path: Path, contract: Contract, replay_log
):
    """--max-messages / --max-message-chars count what is sent: the stored chain's turns and
    the instructions too, so a long chain is refused naming `previous_response_id`."""
    settings = replace(app_settings, data_dir=tmp_path)
    with in_process(settings) as running:  # the chain, stored under the default limits
        long_first = running.sdk().responses.create(model="sonnet", input="L" * 300)
        short_first = running.sdk().responses.create(model="sonnet", input="short")
    tight = replace(settings, max_messages=4, max_message_chars=200)
    with in_process(tight) as running:
        sdk = running.sdk()
        turns = [
            {"role": "user", "content": "one"},
            {"role": "assistant", "content": "two"},
            {"role": "user", "content": "three"},
        ]
        first = sdk.responses.create(model="sonnet", input=turns)  # 3 messages: within

        def post(marker: str, **body: object) -> dict:
            r = running.client.post("/v1/responses", json={"model": "sonnet", **body})
            assert r.status_code == 400, r.text
            contract.check(r)
            assert_no_cli(replay_log, marker)
            return r.json()["error"]

        # the chain's 3 input items + its answer + this input: 5 messages, over 4
        error = post("chain-5", input="chain-5", previous_response_id=first.id)
        assert (error["code"], error["param"]) == ("too_many_messages", "previous_response_id")
        assert "Too many messages: 5" in error["message"]
        many = [{"role": "user", "content": f"many-{i}"} for i in range(5)]
        error = post("many-4", input=many, previous_response_id=first.id)
        assert (error["code"], error["param"]) == ("too_many_messages", "input")
        four = [*turns, {"role": "user", "content": "instr-1"}]  # + the instructions: 5
        error = post("instr-1", input=four, instructions="be brief", store=False)
        assert (error["code"], error["param"]) == ("too_many_messages", "input")
        # a stored message over the size limit, this request's own, the instructions
        error = post("long-old", input="long-old", previous_response_id=long_first.id)
        assert (error["code"], error["param"]) == ("message_too_long", "previous_response_id")
        error = post(
            "long-new",
            input=[{"role": "user", "content": "x" * 201 + " long-new"}],
            previous_response_id=short_first.id,
        )
        assert (error["code"], error["param"]) == ("message_too_long", "input.0")
        error = post("long-instr", input="long-instr", instructions="i" * 201)
        assert (error["code"], error["param"]) == ("message_too_long", "instructions")
