"""Every guard as a request that must be refused, through uvicorn and the real CLI: wrong or
missing key, evil Host, foreign Origin, cross-site simple POSTs, oversized bodies, too many
or too long messages, flag-looking model ids. None of them may start a CLI process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import httpx
import openai
import pytest

from conformance.fake_anthropic import FakeAnthropic
from handlers.config.settings import Settings
from tests.conftest import RunningProxy, serve, wait_no_cli_children
from tests.contract import Contract
from tests.e2e.guards_util import assert_no_cli, chat_body, refused

KEY = "sk-proxy-test-0123456789"
KEY2 = "sk-proxy-other-0123456789"
APP_ORIGIN = "http://app.example"
EVIL = "https://evil.example"
BODY_CAP = 64 * 1024


@pytest.fixture(scope="module")
def guarded(base_settings: Settings) -> Iterator[RunningProxy]:
    settings = replace(
        base_settings,
        api_keys=(KEY, KEY2),
        cors_origins=(APP_ORIGIN,),
        max_body_bytes=BODY_CAP,
        max_messages=4,
        max_message_chars=2000,
    )
    with serve(settings) as running:
        yield running


@pytest.fixture
def client(contract: Contract) -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as c:
        yield c


AUTH = {"Authorization": f"Bearer {KEY}"}


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
def test_chat_without_a_valid_key_is_401(
    guarded, client, contract, upstream: FakeAnthropic, marker, headers
):
    r = client.post(f"{guarded.v1}/chat/completions", json=chat_body(marker), headers=headers)
    error = refused(contract, r, 401, "invalid_api_key")
    assert r.headers["www-authenticate"] == "Bearer"
    assert KEY not in r.text
    assert error["type"] == "invalid_request_error"
    assert_no_cli(upstream, marker)


@pytest.mark.parametrize("path", ["/v1/models", "/v1/models/opus", "/metrics"])
def test_every_protected_route_needs_the_key(guarded, client, contract, path):
    refused(contract, client.get(guarded.url + path), 401, "invalid_api_key")
    ok = client.get(guarded.url + path, headers={"x-api-key": KEY2})
    assert ok.status_code == 200
    contract.check(ok)


def test_unknown_paths_need_the_key_too(guarded, client, contract):
    refused(contract, client.get(f"{guarded.url}/v2/secret"), 401, "invalid_api_key")
    refused(contract, client.get(f"{guarded.url}/v2/secret", headers=AUTH), 404)


def test_either_header_carries_the_key(guarded, contract):
    with httpx.Client(timeout=60, event_hooks={"response": [contract.hook]}) as http:
        for headers in (
            AUTH,
            {"x-api-key": KEY2},
            {"Authorization": "Bearer no", "x-api-key": KEY},
        ):
            assert http.get(f"{guarded.v1}/models", headers=headers).status_code == 200
        sdk = openai.OpenAI(base_url=guarded.v1, api_key=KEY, max_retries=0, http_client=http)
        reply = sdk.chat.completions.create(
            model="opus", messages=[{"role": "user", "content": "hi"}]
        )
        assert reply.choices[0].message.content
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(
                base_url=guarded.v1, api_key="sk-wrong", max_retries=0, http_client=http
            ).models.list()


def test_health_is_open_but_reveals_less_without_a_key(guarded, client, contract):
    anonymous = client.get(f"{guarded.url}/health")
    contract.check(anonymous)
    assert anonymous.json()["cli"] == {"found": True, "path": None, "version": None}
    assert "queue" not in anonymous.json()
    full = client.get(f"{guarded.url}/health", headers=AUTH)
    contract.check(full)
    assert full.json()["cli"]["path"] and full.json()["cli"]["version"]
    assert "queue" in full.json()


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer anything"}, {"Authorization": "Basic Zm9vOmJhcg=="},
     {"Authorization": "Bearer"}, {"x-api-key": "whatever"}],
    ids=["none", "any-bearer", "basic", "empty-bearer", "x-api-key"],
)  # fmt: skip
def test_without_configured_keys_any_or_no_credentials_pass(proxy, http, headers):
    """Keys off: connexion's declared security (`{}` alternative) must not refuse anyone."""
    r = http.get("/v1/models", headers=headers)
    assert r.status_code == 200
    assert http.get("/health", headers=headers).json()["cli"]["path"]


# --- Host (DNS rebinding) ------------------------------------------------------------------


@pytest.mark.parametrize("host", ["evil.example", "attacker.example:3456", "127.0.0.1.nip.io"])
def test_evil_host_is_refused(proxy, guarded, client, contract, upstream, marker, host):
    for running in (proxy, guarded):
        r = client.get(f"{running.url}/health", headers={"Host": host})
        refused(contract, r, 400, "invalid_host")
        r = client.post(
            f"{running.v1}/chat/completions",
            json=chat_body(marker),
            headers={"Host": host, **AUTH},
        )
        error = refused(contract, r, 400, "invalid_host")
        assert "--allowed-host" in error["message"]
    assert_no_cli(upstream, marker)


def test_local_names_are_allowed(proxy, client, contract):
    port = proxy.settings.port
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", "[::1]", "LOCALHOST"):
        r = client.get(f"{proxy.url}/health", headers={"Host": host})
        contract.check(r)
        assert r.status_code == 200, host


# --- Origin and CORS ---------------------------------------------------------------------


PREFLIGHT = {
    "Origin": EVIL,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


def test_foreign_origin_preflight_is_refused(proxy, guarded, client, contract):
    for running in (proxy, guarded):
        r = client.options(f"{running.v1}/chat/completions", headers=PREFLIGHT)
        refused(contract, r, 403, "origin_not_allowed")
        assert not any(h.startswith("access-control-") for h in r.headers)


def test_allowed_origin_gets_cors_headers(guarded, client, contract):
    preflight = {**PREFLIGHT, "Origin": APP_ORIGIN}
    r = client.options(f"{guarded.v1}/chat/completions", headers=preflight)
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "POST" in r.headers["access-control-allow-methods"]
    assert "credentials" not in " ".join(r.headers)
    get = client.get(f"{guarded.v1}/models", headers={"Origin": APP_ORIGIN, **AUTH})
    contract.check(get)
    assert get.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "X-Request-Id" in get.headers["access-control-expose-headers"]
    # the key is still required from an allowed origin
    refused(contract, client.get(f"{guarded.v1}/models", headers={"Origin": APP_ORIGIN}), 401)


def test_no_cors_headers_by_default(proxy, client, contract):
    port = proxy.settings.port
    same = client.get(f"{proxy.v1}/models", headers={"Origin": f"http://127.0.0.1:{port}"})
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
    proxy, client, contract, upstream, marker, content_type, body, origin
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
    r = client.post(f"{proxy.v1}/chat/completions", content=content, headers=headers)
    if origin:
        refused(contract, r, 403, "origin_not_allowed")
    else:
        error = refused(contract, r, 415, "unsupported_media_type")
        assert "application/json" in error["message"]
    assert_no_cli(upstream, marker)


def test_json_post_from_a_foreign_origin_is_refused_even_with_a_key(
    guarded, client, contract, upstream, marker
):
    r = client.post(
        f"{guarded.v1}/chat/completions", json=chat_body(marker), headers={"Origin": EVIL, **AUTH}
    )
    refused(contract, r, 403, "origin_not_allowed")
    assert_no_cli(upstream, marker)


# --- body and message limits ---------------------------------------------------------------


def test_oversized_body_is_413(guarded, client, contract, upstream, marker):
    body = chat_body(marker)
    body["messages"][0]["content"] += "x" * BODY_CAP
    r = client.post(f"{guarded.v1}/chat/completions", json=body, headers=AUTH)
    error = refused(contract, r, 413, "request_too_large")
    assert str(BODY_CAP) in error["message"]
    assert_no_cli(upstream, marker)


def test_oversized_chunked_body_is_413(guarded, client, contract, upstream, marker):
    head = json.dumps(chat_body(marker))[:-1].encode()

    def chunks() -> Iterator[bytes]:  # no Content-Length: Transfer-Encoding: chunked
        yield head + b', "pad": "'
        for _ in range(BODY_CAP // 4096 + 2):
            yield b"y" * 4096
        yield b'"}'

    r = client.post(
        f"{guarded.v1}/chat/completions",
        content=chunks(),
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert r.request.headers["transfer-encoding"] == "chunked"
    # the contract re-reads the request body, which a generator cannot give twice
    sent = httpx.Request("POST", r.request.url, headers=r.request.headers, content=b"{}")
    refused(
        contract,
        httpx.Response(r.status_code, headers=r.headers, content=r.content, request=sent),
        413,
        "request_too_large",
    )
    assert_no_cli(upstream, marker)


def test_body_just_under_the_cap_is_fine(guarded, client, contract):
    r = client.post(
        f"{guarded.v1}/chat/completions",
        json={"model": "--nope", "messages": [{"role": "user", "content": "x" * (BODY_CAP // 2)}]},
        headers=AUTH,
    )
    refused(contract, r, 404, "model_not_found")  # got past the body guard to the catalogue


def test_too_many_messages(guarded, client, contract, upstream, marker):
    body = chat_body(marker)
    body["messages"] = [{"role": "user", "content": "hi"}] * 4 + body["messages"]
    r = client.post(f"{guarded.v1}/chat/completions", json=body, headers=AUTH)
    assert refused(contract, r, 400, "too_many_messages")["param"] == "messages"
    assert_no_cli(upstream, marker)


def test_too_long_message(guarded, client, contract, upstream, marker):
    body = chat_body(marker)
    body["messages"].insert(0, {"role": "system", "content": "s" * 2001})
    r = client.post(f"{guarded.v1}/chat/completions", json=body, headers=AUTH)
    assert refused(contract, r, 400, "message_too_long")["param"] == "messages.0"
    assert_no_cli(upstream, marker)


# --- flag-looking model ids ----------------------------------------------------------------


FLAGGY = ["--tools", "-p", "--dangerously-skip-permissions", "claude-max/--tools", "-", "--"]


@pytest.mark.parametrize("model", FLAGGY)
def test_flag_looking_model_is_404_and_never_spawns(
    proxy, client, contract, upstream, marker, model
):
    body = {**chat_body(marker), "model": model}
    for stream in (False, True):
        r = client.post(f"{proxy.v1}/chat/completions", json={**body, "stream": stream})
        error = refused(contract, r, 404, "model_not_found")
        assert error["param"] == "model"
    r = client.get(f"{proxy.v1}/models/{model}")
    refused(contract, r, 404, "model_not_found")
    assert_no_cli(upstream, marker)


# --- request ids ---------------------------------------------------------------------------


def test_request_id_is_honoured_or_generated_on_every_response(proxy, guarded, client, contract):
    sane = {"X-Request-Id": "client-id-42"}
    assert client.get(f"{proxy.url}/health", headers=sane).headers["x-request-id"] == "client-id-42"
    r = client.get(f"{proxy.v1}/models/nope", headers=sane)
    refused(contract, r, 404)
    assert r.headers["x-request-id"] == "client-id-42"
    r = client.get(f"{guarded.v1}/models", headers=sane)
    refused(contract, r, 401)
    assert r.headers["x-request-id"] == "client-id-42"
    insane = client.get(f"{proxy.url}/health", headers={"X-Request-Id": "bad id\twith junk"})
    assert insane.headers["x-request-id"].startswith("req_")
    ids = {client.get(f"{proxy.url}/health").headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3


def test_request_id_on_sse(proxy, contract):
    body = {"model": "opus", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    with (
        httpx.Client(timeout=60) as c,
        c.stream(
            "POST", f"{proxy.v1}/chat/completions", json=body, headers={"X-Request-Id": "sse-1"}
        ) as r,
    ):
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["x-request-id"] == "sse-1"
        contract.check(r)
    assert wait_no_cli_children() == []
