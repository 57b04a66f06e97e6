"""Every guard as a request that must be refused: wrong or missing key, evil Host, foreign
Origin, cross-site simple POSTs, oversized bodies, too many or too long messages, flag-looking
model ids. None of them may reach a CLI. In-process; tests/e2e/test_guards.py sends a few of
them over a real socket."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import openai
import pytest

from handlers.config.settings import Settings
from tests.contract import Contract
from tests.e2e.guards_util import chat_body, refused
from tests.inproc.conftest import InProcessProxy, assert_no_cli, in_process, turns_with

KEY = "sk-proxy-test-0123456789"
KEY2 = "sk-proxy-other-0123456789"
APP_ORIGIN = "http://app.example"
EVIL = "https://evil.example"
BODY_CAP = 64 * 1024
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def guarded(app_settings: Settings) -> Iterator[InProcessProxy]:
    settings = replace(
        app_settings,
        api_keys=(KEY, KEY2),
        cors_origins=(APP_ORIGIN,),
        max_body_bytes=BODY_CAP,
        max_messages=4,
        max_message_chars=2000,
    )
    with in_process(settings) as running:
        yield running


# --- API keys ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer sk-proxy-test-WRONG"},
        {"Authorization": f"Bearer {KEY}x"},
        {"Authorization": f"Basic {KEY}"},
        {"Authorization": "Bearer"},
        {"x-api-key": "sk-proxy-test-WRONG"},
    ],
    ids=["no-key", "wrong-bearer", "longer-key", "basic", "empty-bearer", "wrong-x-api-key"],
)
def test_chat_without_a_valid_key_is_401(guarded, contract, replay_log, marker, headers):
    r = guarded.client.post("/v1/chat/completions", json=chat_body(marker), headers=headers)
    error = refused(contract, r, 401, "invalid_api_key")
    assert r.headers["www-authenticate"] == "Bearer"
    assert KEY not in r.text
    assert error["type"] == "invalid_request_error"
    assert_no_cli(replay_log, marker)


@pytest.mark.parametrize("path", ["/v1/models", "/v1/models/opus", "/metrics"])
def test_every_protected_route_needs_the_key(guarded, contract, path):
    refused(contract, guarded.client.get(path), 401, "invalid_api_key")
    ok = guarded.client.get(path, headers={"x-api-key": KEY2})
    assert ok.status_code == 200
    contract.check(ok)


@pytest.mark.parametrize("path", ["/openapi.json", "/openapi.yaml"])
def test_the_published_contract_needs_no_key(guarded, path):
    r = guarded.client.get(path)
    assert r.status_code == 200
    assert "createChatCompletion" in r.text


def test_unknown_paths_need_the_key_too(guarded, contract):
    refused(contract, guarded.client.get("/v2/secret"), 401, "invalid_api_key")
    refused(contract, guarded.client.get("/v2/secret", headers=AUTH), 404)


def test_either_header_carries_the_key(guarded, replay_log: Path, marker: str):
    for headers in (AUTH, {"x-api-key": KEY2}, {"Authorization": "Bearer no", "x-api-key": KEY}):
        assert guarded.client.get("/v1/models", headers=headers).status_code == 200
    reply = guarded.sdk(KEY).chat.completions.create(
        model="opus", messages=[{"role": "user", "content": f"hi {marker}"}]
    )
    assert reply.choices[0].message.content == f"Replay: hi {marker}"
    assert len(turns_with(replay_log, marker)) == 1
    with pytest.raises(openai.AuthenticationError):
        guarded.sdk("sk-wrong").models.list()


def test_health_is_open_but_reveals_less_without_a_key(guarded, contract):
    anonymous = guarded.client.get("/health")
    contract.check(anonymous)
    assert anonymous.json()["cli"] == {"found": True, "path": None, "version": None}
    assert "queue" not in anonymous.json()
    full = guarded.client.get("/health", headers=AUTH)
    contract.check(full)
    assert full.json()["cli"]["path"] == guarded.settings.claude_bin
    assert full.json()["cli"]["version"]
    assert "queue" in full.json()


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer anything"}, {"Authorization": "Basic Zm9vOmJhcg=="},
     {"Authorization": "Bearer"}, {"x-api-key": "whatever"}],
    ids=["none", "any-bearer", "basic", "empty-bearer", "x-api-key"],
)  # fmt: skip
def test_without_configured_keys_any_or_no_credentials_pass(client, headers):
    """Keys off: connexion's declared security (`{}` alternative) must not refuse anyone."""
    assert client.get("/v1/models", headers=headers).status_code == 200
    assert client.get("/health", headers=headers).json()["cli"]["path"]


# --- Host (DNS rebinding) ------------------------------------------------------------------


@pytest.mark.parametrize("host", ["evil.example", "attacker.example:3456", "127.0.0.1.nip.io"])
def test_evil_host_is_refused(app, guarded, contract, replay_log, marker, host):
    for running in (app, guarded):
        r = running.client.get("/health", headers={"Host": host})
        refused(contract, r, 400, "invalid_host")
        r = running.client.post(
            "/v1/chat/completions", json=chat_body(marker), headers={"Host": host, **AUTH}
        )
        error = refused(contract, r, 400, "invalid_host")
        assert "--allowed-host" in error["message"]
    assert_no_cli(replay_log, marker)


def test_local_names_are_allowed(app, contract):
    port = app.settings.port
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", "[::1]", "LOCALHOST"):
        r = app.client.get("/health", headers={"Host": host})
        contract.check(r)
        assert r.status_code == 200, host


def test_an_operator_added_host_is_allowed(app_settings, contract):
    with in_process(replace(app_settings, allowed_hosts=("proxy.lan",))) as running:
        assert running.client.get("/health", headers={"Host": "proxy.lan:3456"}).status_code == 200
        refused(contract, running.client.get("/health", headers={"Host": "other.lan"}), 400)


# --- Origin and CORS ---------------------------------------------------------------------


PREFLIGHT = {
    "Origin": EVIL,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


def test_foreign_origin_preflight_is_refused(app, guarded, contract):
    for running in (app, guarded):
        r = running.client.options("/v1/chat/completions", headers=PREFLIGHT)
        refused(contract, r, 403, "origin_not_allowed")
        assert not any(h.startswith("access-control-") for h in r.headers)


def test_allowed_origin_gets_cors_headers(guarded, contract):
    client = guarded.client
    r = client.options("/v1/chat/completions", headers={**PREFLIGHT, "Origin": APP_ORIGIN})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "POST" in r.headers["access-control-allow-methods"]
    assert "credentials" not in " ".join(r.headers)
    get = client.get("/v1/models", headers={"Origin": APP_ORIGIN, **AUTH})
    contract.check(get)
    assert get.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "X-Request-Id" in get.headers["access-control-expose-headers"]
    # the key is still required from an allowed origin
    refused(contract, client.get("/v1/models", headers={"Origin": APP_ORIGIN}), 401)


def test_no_cors_headers_by_default(app, contract):
    same = app.client.get("/v1/models", headers={"Origin": f"http://127.0.0.1:{app.settings.port}"})
    contract.check(same)
    assert same.status_code == 200  # the proxy's own pages (Swagger UI) still work
    assert not any(h.startswith("access-control-") for h in same.headers)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain;charset=UTF-8", "json"),
        ("application/x-www-form-urlencoded", "form"),
        ("multipart/form-data; boundary=xyz", "multipart"),
        (None, "json"),  # fetch(url, {method: "POST", body: new Blob([json])})
    ],
)
@pytest.mark.parametrize("origin", [EVIL, None], ids=["cross-site", "no-origin"])
def test_simple_cross_site_posts_never_reach_the_cli(
    client, contract, replay_log, marker, content_type, body, origin
):
    """What a web page can send without a preflight, to the unauthenticated default proxy."""
    payload = json.dumps(chat_body(marker))
    content = {
        "json": payload,
        "form": f"x={payload}",
        "multipart": (
            f'--xyz\r\nContent-Disposition: form-data; name="x"\r\n\r\n{payload}\r\n--xyz--\r\n'
        ),
    }[body]
    headers = {"Content-Type": content_type} if content_type else {}
    if origin:
        headers["Origin"] = origin
    r = client.post("/v1/chat/completions", content=content, headers=headers)
    if origin:
        refused(contract, r, 403, "origin_not_allowed")
    else:
        error = refused(contract, r, 415, "unsupported_media_type")
        assert "application/json" in error["message"]
    assert_no_cli(replay_log, marker)


def test_json_post_from_a_foreign_origin_is_refused_even_with_a_key(
    guarded, contract, replay_log, marker
):
    r = guarded.client.post(
        "/v1/chat/completions", json=chat_body(marker), headers={"Origin": EVIL, **AUTH}
    )
    refused(contract, r, 403, "origin_not_allowed")
    assert_no_cli(replay_log, marker)


# --- body and message limits ---------------------------------------------------------------


def test_oversized_body_is_413(guarded, contract, replay_log, marker):
    body = chat_body(marker)
    body["messages"][0]["content"] += "x" * BODY_CAP
    r = guarded.client.post("/v1/chat/completions", json=body, headers=AUTH)
    error = refused(contract, r, 413, "request_too_large")
    assert str(BODY_CAP) in error["message"]
    assert_no_cli(replay_log, marker)


def test_body_just_under_the_cap_is_fine(guarded, contract):
    r = guarded.client.post(
        "/v1/chat/completions",
        json={"model": "--nope", "messages": [{"role": "user", "content": "x" * (BODY_CAP // 2)}]},
        headers=AUTH,
    )
    refused(contract, r, 404, "model_not_found")  # got past the body guard to the catalogue


def test_too_many_messages(guarded, contract, replay_log, marker):
    body = chat_body(marker)
    body["messages"] = [{"role": "user", "content": "hi"}] * 4 + body["messages"]
    r = guarded.client.post("/v1/chat/completions", json=body, headers=AUTH)
    assert refused(contract, r, 400, "too_many_messages")["param"] == "messages"
    assert_no_cli(replay_log, marker)


def test_too_long_message(guarded, contract, replay_log, marker):
    body = chat_body(marker)
    body["messages"].insert(0, {"role": "system", "content": "s" * 2001})
    r = guarded.client.post("/v1/chat/completions", json=body, headers=AUTH)
    assert refused(contract, r, 400, "message_too_long")["param"] == "messages.0"
    assert_no_cli(replay_log, marker)


# --- flag-looking model ids ----------------------------------------------------------------


FLAGGY = ["--tools", "-p", "--dangerously-skip-permissions", "claude-max/--tools", "-", "--"]


@pytest.mark.parametrize("model", FLAGGY)
def test_flag_looking_model_is_404_and_never_spawns(client, contract, replay_log, marker, model):
    body = {**chat_body(marker), "model": model}
    for stream in (False, True):
        r = client.post("/v1/chat/completions", json={**body, "stream": stream})
        assert refused(contract, r, 404, "model_not_found")["param"] == "model"
    refused(contract, client.get(f"/v1/models/{model}"), 404, "model_not_found")
    assert_no_cli(replay_log, marker)


# --- request ids ---------------------------------------------------------------------------


def test_request_id_is_honoured_or_generated_on_every_response(client, guarded, contract):
    sane = {"X-Request-Id": "client-id-42"}
    assert client.get("/health", headers=sane).headers["x-request-id"] == "client-id-42"
    r = client.get("/v1/models/nope", headers=sane)
    refused(contract, r, 404)
    assert r.headers["x-request-id"] == "client-id-42"
    r = guarded.client.get("/v1/models", headers=sane)
    refused(contract, r, 401)
    assert r.headers["x-request-id"] == "client-id-42"
    insane = client.get("/health", headers={"X-Request-Id": "bad id\twith junk"})
    assert insane.headers["x-request-id"].startswith("req_")
    ids = {client.get("/health").headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3


def test_request_id_on_sse(client, contract: Contract, marker: str):
    body = {"model": "opus", "stream": True, "messages": [{"role": "user", "content": marker}]}
    headers = {"X-Request-Id": "sse-1"}
    with client.stream("POST", "/v1/chat/completions", json=body, headers=headers) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["x-request-id"] == "sse-1"
        payloads = contract.check_sse(r.read().decode())
    text = "".join(p["choices"][0]["delta"].get("content") or "" for p in payloads if p["choices"])
    assert text == f"Replay: {marker}"
