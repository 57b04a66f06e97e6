"""The dashboard in-process: who gets the page and its numbers, and that the numbers are the
requests just made (the contract guard validates every answer against DashboardStatus)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace

import pytest
from starlette.testclient import TestClient

from handlers.app import create_app
from handlers.config.settings import Settings
from handlers.security import key_id
from tests.inproc.conftest import BASE_URL

KEY = "sk-dashboard-test-key-1"
LOOPBACK = ("127.0.0.1", 50000)
REMOTE = ("203.0.113.7", 50000)


@contextlib.contextmanager
def dashboard_app(
    settings: Settings, tmp_path, client=LOOPBACK, **changes: object
) -> Iterator[TestClient]:
    settings = replace(settings, runtime_dir=tmp_path / "runtime", **changes)
    with TestClient(create_app(settings), base_url=BASE_URL, client=client) as c:
        yield c


def chat(client: TestClient, text: str, headers: dict[str, str] | None = None) -> None:
    body = {"model": "sonnet", "messages": [{"role": "user", "content": text}]}
    r = client.post("/v1/chat/completions", json=body, headers=headers or {})
    assert r.status_code == 200, r.text


def test_with_keys_the_status_needs_a_key_the_page_does_not(app_settings, tmp_path):
    with dashboard_app(app_settings, tmp_path, api_keys=(KEY,)) as c:
        assert c.get("/dashboard/status").status_code == 401
        bad = c.get("/dashboard/status", headers={"Authorization": "Bearer sk-not-the-key-0"})
        assert bad.status_code == 401
        page = c.get("/dashboard")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert c.get("/dashboard/static/dashboard.js").status_code == 200
        auth = {"Authorization": f"Bearer {KEY}"}
        chat(c, "dashboard key usage", auth)
        r = c.get("/dashboard/status", headers=auth)
        assert r.status_code == 200
        status = r.json()
        assert status["api_keys"] is True
        ids = [row["id"] for row in status["tokens"]["by_key"]]
        assert ids == [key_id(KEY)]
        assert KEY not in r.text


def test_with_keys_a_remote_client_with_the_key_is_served(app_settings, tmp_path):
    with dashboard_app(app_settings, tmp_path, client=REMOTE, api_keys=(KEY,)) as c:
        r = c.get("/dashboard/status", headers={"Authorization": f"Bearer {KEY}"})
        assert r.status_code == 200
        assert c.get("/dashboard/status").status_code == 401


def test_without_keys_only_loopback_clients(app_settings, tmp_path):
    with dashboard_app(app_settings, tmp_path, client=REMOTE) as c:
        for path in ("/dashboard", "/dashboard/status", "/dashboard/static/dashboard.css"):
            r = c.get(path)
            assert r.status_code == 403, path
            assert r.json()["error"]["code"] == "dashboard_not_allowed"


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
def test_without_keys_only_same_origin_requests(app_settings, tmp_path, headers):
    cors = ("http://evil.example",)  # even a CORS origin gets no dashboard without keys
    with dashboard_app(app_settings, tmp_path, cors_origins=cors) as c:
        r = c.get("/dashboard/status", headers=headers)
        assert r.status_code == 403
        assert r.json()["error"]["code"] == "dashboard_not_allowed"
        own = {"Origin": BASE_URL, "Sec-Fetch-Site": "same-origin"}
        assert c.get("/dashboard/status", headers=own).status_code == 200


def test_status_counts_the_requests_and_errors(app_settings, tmp_path):
    with dashboard_app(app_settings, tmp_path) as c:
        before = c.get("/dashboard/status").json()
        assert before["requests"]["total_1h"] == 0
        for i in range(3):
            chat(c, f"dashboard count {i}")
        missing = {"model": "gpt-nope", "messages": [{"role": "user", "content": "x"}]}
        assert c.post("/v1/chat/completions", json=missing).status_code == 404
        c.get("/health")  # probes are not traffic
        status = c.get("/dashboard/status").json()
        assert status["requests"]["total_1h"] == 4
        assert sum(status["requests"]["ok"]) == 3
        assert sum(status["requests"]["error"]) == 1
        assert status["ttft"]["count_1h"] == 3
        models = {row["id"]: row for row in status["tokens"]["by_model"]}
        assert "sonnet" in models and models["sonnet"]["output"] > 0
        assert status["tokens"]["by_key"][0]["id"] is None
        codes = {e["code"]: e["count"] for e in status["errors"]["by_type_1h"]}
        assert codes == {"model_not_found": 1}
        assert status["errors"]["recent"][0]["route"] == "create_chat_completion"
        listed = [m["id"] for m in c.get("/v1/models").json()["data"]]
        assert status["models"] == listed
        assert status["cli"]["found"] is True
