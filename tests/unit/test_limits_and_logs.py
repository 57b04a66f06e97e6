"""Message limits, and the log formats (request id on every line, JSON on request)."""

from __future__ import annotations

import io
import json
import logging

import pytest

from cli_bridge.errors import InvalidRequest
from handlers import logs
from handlers.limits import check_messages, text_size
from handlers.middleware import access


def test_text_size_counts_every_string():
    message = {
        "role": "assistant",
        "content": [{"type": "text", "text": "abc"}],
        "tool_calls": [{"id": "x", "function": {"name": "f", "arguments": "{}"}}],
    }
    assert text_size(message) == len("assistanttextabcxf{}")


def test_too_many_messages():
    with pytest.raises(InvalidRequest) as exc:
        check_messages([{"role": "user", "content": "a"}] * 3, max_messages=2, max_chars=100)
    assert exc.value.param == "messages"
    assert exc.value.code == "too_many_messages"


def test_too_long_message_is_named():
    msgs = [{"role": "user", "content": "ok"}, {"role": "user", "content": "x" * 50}]
    with pytest.raises(InvalidRequest) as exc:
        check_messages(msgs, max_messages=5, max_chars=20)
    assert exc.value.param == "messages.1"
    assert exc.value.status == 400


def test_request_ids():
    assert access.request_id_from("abc-123_x.y:z") == "abc-123_x.y:z"
    for bad in (None, "", "has space", "x" * 129, "new\nline", "ünï"):
        generated = access.request_id_from(bad)
        assert generated.startswith("req_") and generated != bad


def record(msg: str, **extra) -> logging.LogRecord:
    rec = logging.makeLogRecord({"name": "t", "levelno": 20, "levelname": "INFO", "msg": msg})
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def test_json_lines_carry_the_request_id_and_extras():
    out = io.StringIO()
    handler = logs.make_handler("json", out)
    token = access._current.set(access.RequestInfo("req_test", "GET", "/x"))
    try:
        handler.handle(record("hello %s", status=200, route="list_models"))
    finally:
        access._current.reset(token)
    line = json.loads(out.getvalue())
    assert line["message"] == "hello %s"  # no args given: message is the template
    assert line["request_id"] == "req_test"
    assert line["status"] == 200 and line["route"] == "list_models"
    assert line["level"] == "info"


def test_text_lines_outside_a_request():
    out = io.StringIO()
    logs.make_handler("text", out).handle(record("started"))
    assert "[-]: started" in out.getvalue()
