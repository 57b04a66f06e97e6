"""handlers.validation: `param` and message from real jsonschema errors on the real schema."""

from __future__ import annotations

from pathlib import Path

import pytest
from connexion.json_schema import Draft4RequestValidator
from connexion.spec import Specification
from jsonschema import Draft4Validator
from jsonschema.exceptions import best_match

from handlers.validation import message_from_error, param_from_error

SPEC = Path(__file__).resolve().parent.parent.parent / "openapi.yaml"


@pytest.fixture(scope="module")
def validator() -> Draft4RequestValidator:
    spec = Specification.load(SPEC)
    schema = spec["components"]["schemas"]["CreateChatCompletionRequest"]
    return Draft4RequestValidator(schema)


OK = {"model": "opus", "messages": [{"role": "user", "content": "hi"}]}


def error_for(validator, body):
    error = best_match(validator.iter_errors(body))  # as OpenAIJSONBodyValidator does
    assert error is not None, body
    return error


def test_valid_body_has_no_error(validator):
    assert best_match(validator.iter_errors(OK)) is None


@pytest.mark.parametrize(
    ("body", "param", "message"),
    [
        ({}, "model", "'model' is a required property - 'model'"),
        ({"model": "opus"}, "messages", "'messages' is a required property - 'messages'"),
        (
            {"messages": [{"role": "user", "content": "hi"}]},
            "model",
            "'model' is a required property - 'model'",
        ),
        (
            {"model": "opus", "messages": [{"content": "hi"}]},
            "messages.0.role",
            "'role' is a required property - 'messages.0.role'",
        ),
        ({"model": "opus", "messages": []}, "messages", "[] should be non-empty - 'messages'"),
    ],
)
def test_required_and_shape_errors(validator, body, param, message):
    error = error_for(validator, body)
    assert param_from_error(error) == param
    assert message_from_error(error) == message


def test_nested_enum_names_the_role(validator):
    body = {"model": "opus", "messages": [OK["messages"][0], {"role": "robot", "content": "x"}]}
    error = error_for(validator, body)
    assert error.validator == "enum"
    assert param_from_error(error) == "messages.1.role"
    body = {"model": "opus", "messages": [{"role": "robot", "content": "x"}]}
    error = error_for(validator, body)
    assert param_from_error(error) == "messages.0.role"
    assert message_from_error(error).startswith("'robot' is not one of ['system', 'developer'")
    assert message_from_error(error).endswith(" - 'messages.0.role'")


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"n": 0}, "n"),
        ({"temperature": "hot"}, "temperature"),
        ({"stream_options": {"include_usage": "yes"}}, "stream_options.include_usage"),
        ({"stop": ["a", 5]}, "stop.1"),
        ({"tool_choice": {"type": "function", "function": {}}}, "tool_choice.function.name"),
    ],
)
def test_nested_params(validator, extra, param):
    error = error_for(validator, {**OK, **extra})
    assert param_from_error(error) == param
    assert message_from_error(error).endswith(f" - '{param}'")


def test_content_part_type_enum(validator):
    body = {"model": "opus", "messages": [{"role": "user", "content": [{"type": "video"}]}]}
    error = error_for(validator, body)
    assert param_from_error(error) == "messages.0.content.0.type"


def test_any_of_error_reports_a_branch_message(validator):
    body = {"model": "opus", "messages": [{"role": "user", "content": 5}]}
    error = error_for(validator, body)
    assert error.validator == "anyOf"
    assert param_from_error(error) == "messages.0.content"
    message = message_from_error(error)
    assert message.startswith("5 is not of type ")
    assert "is not valid under any of the given schemas" not in message


def test_message_from_error_prefers_the_deepest_branch():
    schema = {
        "type": "object",
        "properties": {
            "x": {
                "anyOf": [
                    {"type": "string"},
                    {"type": "object", "properties": {"y": {"type": "integer"}}},
                ]
            }
        },
    }
    (error,) = Draft4Validator(schema).iter_errors({"x": {"y": "no"}})
    assert error.validator == "anyOf"
    assert param_from_error(error) == "x"
    assert message_from_error(error) == "'no' is not of type 'integer' - 'x'"


def test_top_level_type_error_has_no_param():
    (error,) = Draft4Validator({"type": "object"}).iter_errors([1])
    assert param_from_error(error) is None
    assert message_from_error(error) == "[1] is not of type 'object'"


def test_required_param_and_message_name_the_same_field():
    schema = {"type": "object", "required": ["b", "a"]}
    error = best_match(Draft4Validator(schema).iter_errors({}))
    assert param_from_error(error) == "b"
    assert message_from_error(error) == "'b' is a required property - 'b'"
    (error,) = Draft4Validator(schema).iter_errors({"b": 1})
    assert param_from_error(error) == "a"
    assert message_from_error(error) == "'a' is a required property - 'a'"
