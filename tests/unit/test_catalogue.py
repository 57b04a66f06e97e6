"""The model catalogue: public ids, aliases, prefixes, operator extras."""

from __future__ import annotations

import pytest

from cli_bridge.catalogue import DEFAULT_MODELS, PREFIXES, Catalogue, parse_model_mappings
from cli_bridge.errors import ModelNotFound
from handlers.api.models import model_object
from handlers.errors import openai_body

SEED_IDS = {
    "claude-opus-4-6": "opus",
    "claude-opus-4": "opus",
    "claude-sonnet-4-5": "sonnet",
    "claude-sonnet-4": "sonnet",
    "claude-haiku-4": "haiku",
}
ALIASES = {
    "opus": "opus",
    "sonnet": "sonnet",
    "haiku": "haiku",
    "opus-max": "opus",
    "sonnet-max": "sonnet",
}
CURRENT = {
    "claude-opus-5-5": "claude-opus-5-5",
    "claude-sonnet-5-5": "claude-sonnet-5-5",
    "claude-haiku-5-5": "claude-haiku-5-5",
    "claude-fable-5-2": "claude-fable-5-2",
}
EXPECTED = {**SEED_IDS, **ALIASES, **CURRENT}


@pytest.mark.parametrize(("model_id", "cli_model"), sorted(EXPECTED.items()))
def test_known_ids_resolve(model_id, cli_model):
    entry = Catalogue().resolve(model_id)
    assert entry.id == model_id
    assert entry.cli_model == cli_model
    assert entry.owned_by == "anthropic"


@pytest.mark.parametrize("prefix", ["claude-max/", "claude-code-cli/"])
@pytest.mark.parametrize(("model_id", "cli_model"), sorted(EXPECTED.items()))
def test_prefixed_ids_resolve(prefix, model_id, cli_model):
    entry = Catalogue().resolve(prefix + model_id)
    assert entry.id == model_id
    assert entry.cli_model == cli_model


def test_prefixes():
    assert set(PREFIXES) == {"claude-max/", "claude-code-cli/"}


@pytest.mark.parametrize(
    "model_id",
    [
        "gpt-4o",
        "claude-opus-9",
        "",
        "OPUS",
        " opus",
        "opus ",
        "claude-max/",
        "claude-max/gpt-4o",
        "other/opus",
        "claude-max/claude-max/opus",
        "claude-code-cli/claude-max/opus",
        "--tools",
    ],
)
def test_unknown_is_model_not_found_never_a_fallback(model_id):
    catalogue = Catalogue()
    assert catalogue.lookup(model_id) is None
    with pytest.raises(ModelNotFound) as info:
        catalogue.resolve(model_id)
    err = info.value
    assert err.status == 404
    assert err.code == "model_not_found"
    assert err.type == "invalid_request_error"
    assert err.param == "model"
    assert f"`{model_id}`" in err.message
    assert openai_body(err) == {
        "error": {
            "message": err.message,
            "type": "invalid_request_error",
            "param": "model",
            "code": "model_not_found",
        }
    }


def test_entries_and_openai_shape():
    catalogue = Catalogue()
    ids = [e.id for e in catalogue.entries()]
    assert ids == list(DEFAULT_MODELS)
    assert set(EXPECTED) <= set(ids)
    for entry in catalogue.entries():
        model = model_object(entry)
        assert model == {
            "id": entry.id,
            "object": "model",
            "created": entry.created,
            "owned_by": "anthropic",
        }
        assert isinstance(model["created"], int)
        assert model["created"] > 1_600_000_000


def test_operator_extras_add_and_override():
    catalogue = Catalogue({"my-model": "claude-opus-5-5", "opus": "claude-opus-4-8"})
    added = catalogue.resolve("my-model")
    assert (added.cli_model, added.owned_by) == ("claude-opus-5-5", "operator")
    assert catalogue.resolve("claude-max/my-model").cli_model == "claude-opus-5-5"
    overridden = catalogue.resolve("opus")
    assert (overridden.cli_model, overridden.owned_by) == ("claude-opus-4-8", "operator")
    # others untouched, and the default catalogue is not mutated
    assert catalogue.resolve("sonnet").cli_model == "sonnet"
    assert Catalogue().resolve("opus").cli_model == "opus"
    assert Catalogue().lookup("my-model") is None
    assert [e.id for e in catalogue.entries()].count("opus") == 1


@pytest.mark.parametrize("cli_model", ["claude-sonnet-4-5[1m]", "vendor:model.v2", "a"])
def test_extras_accept_model_names(cli_model):
    assert Catalogue({"x": cli_model}).resolve("x").cli_model == cli_model


@pytest.mark.parametrize(
    ("model_id", "cli_model"),
    [
        ("x", "-x"),
        ("x", "--tools"),
        ("x", ""),
        ("x", "has space"),
        ("x", "../etc/passwd"),
        ("x", "/usr/bin/x"),
        ("x", "opus\n"),  # `$` matches before a trailing newline; fullmatch does not
        ("x", "opus\n--tools"),
        ("x", "a" * 129),
        ("", "opus"),
        ("-x", "opus"),
    ],
)
def test_invalid_extras_raise_value_error(model_id, cli_model):
    with pytest.raises(ValueError):
        Catalogue({model_id: cli_model})


def test_parse_model_mappings():
    assert parse_model_mappings([]) == {}
    assert parse_model_mappings([""]) == {}
    assert parse_model_mappings(["a=b"]) == {"a": "b"}
    assert parse_model_mappings(["a=b,c=d", " e = f ", "a=z"]) == {"a": "z", "c": "d", "e": "f"}
    assert parse_model_mappings(["a=b,,", ","]) == {"a": "b"}
    # only the first '=' splits; the catalogue decides whether the value is usable
    assert parse_model_mappings(["a=b=c"]) == {"a": "b=c"}


@pytest.mark.parametrize("bad", ["a", "a=", "=b", " = ", "a=b,c"])
def test_parse_model_mappings_refuses_bad_items(bad):
    with pytest.raises(ValueError):
        parse_model_mappings([bad])
