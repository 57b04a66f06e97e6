"""The dashboard in a real browser: the proxy on uvicorn with the replay CLI and an API key,
a few chat requests, then /dashboard in headless Chromium (Debian's `chromium`, driven by
Playwright's Python API with `executable_path`: no browser download). The page asks for the
key, shows the numbers of those requests, and asks nothing of any host but the proxy.

Screenshots go to $DASHBOARD_ARTEFACTS (default: the test's temp dir); with
DASHBOARD_SCREENSHOT=path the desktop one is also written there (docs/dashboard.png).
"""

from __future__ import annotations

import os
import shutil
import sysconfig
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import openai
import pytest

from cli_bridge.protocol.events import RateLimitInfo
from handlers.config.settings import Settings
from handlers.security import key_id
from tests.conftest import serve

REPLAY_BIN = str(Path(sysconfig.get_path("scripts")) / "claude-max-api-replay")
KEY = "sk-dashboard-browser-key"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="needs a system Chromium: install Debian's `chromium` package (apt-get install chromium)",  # noqa: E501
)


def artefact_dir(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("DASHBOARD_ARTEFACTS") or tmp_path / "artefacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_dashboard_shows_the_traffic_in_chromium(tmp_path: Path):
    sync_api = pytest.importorskip("playwright.sync_api")
    settings = Settings(
        claude_bin=REPLAY_BIN,
        runtime_dir=tmp_path / "runtime",
        request_timeout=30,
        kill_grace=1.0,
        pool_size=0,
        session_idle=0,
        data_dir=tmp_path / "data",
        api_keys=(KEY,),
    )
    with serve(settings) as proxy:
        client = openai.OpenAI(base_url=proxy.v1, api_key=KEY, max_retries=0)
        for i in range(3):
            answer = client.chat.completions.create(
                model="sonnet", messages=[{"role": "user", "content": f"dashboard {i}"}]
            )
            assert answer.choices[0].message.content
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(
                model="gpt-nope", messages=[{"role": "user", "content": "x"}]
            )
        # The replay recordings carry no rate-limit report: give the engine's board one, as
        # the CLI's `rate_limit_event` would (the page shows its reset time as a countdown).
        assert proxy.state is not None
        proxy.state.bridge.board.observe(
            RateLimitInfo(
                {
                    "status": "allowed_warning",
                    "rateLimitType": "five_hour",
                    "resetsAt": int(time.time()) + 2 * 3600 + 13 * 60,
                    "utilization": 0.82,
                }
            )
        )
        status = httpx.get(
            f"{proxy.url}/dashboard/status", headers={"Authorization": f"Bearer {KEY}"}
        ).json()  # validated against DashboardStatus by the contract guard
        models = [m.id for m in client.models.list().data]
        assert status["models"] == models

        hosts: set[str] = set()
        urls: list[str] = []
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
            )
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 1000})

                def seen(request: object) -> None:
                    url = str(getattr(request, "url", ""))
                    urls.append(url)
                    if not url.startswith(("data:", "about:")):
                        hosts.add(urlsplit(url).netloc)

                page.on("request", seen)
                page.goto(f"{proxy.url}/dashboard")
                page.wait_for_selector("#login:not([hidden])")  # keys set: the form first
                page.fill("#key", KEY)
                page.click("#login button[type=submit]")
                page.wait_for_selector("body[data-loaded=true]")

                assert page.text_content("#status") == "ok"
                # 3 chats and /v1/models ok, 1 unknown model; the page's own polls left out
                assert page.text_content("#req-total-1h") == "5"
                ok_bars = page.locator("#chart-requests rect.bar-ok")
                error_bars = page.locator("#chart-requests rect.bar-error")
                assert sum(int(c) for c in ok_bars.evaluate_all(counts)) == 4
                assert sum(int(c) for c in error_bars.evaluate_all(counts)) == 1
                assert page.text_content("#ttft-count") == "3"
                assert page.locator("#chart-ttft circle.dot-avg").count() >= 1
                model_row = page.locator('#tokens-model .row[data-id="sonnet"]')
                assert int(model_row.get_attribute("data-total") or 0) > 0
                key_row = page.locator("#tokens-key .row").first
                assert key_row.get_attribute("data-id") == key_id(KEY)
                assert KEY not in page.content()
                assert page.locator('#errors-by-type tr[data-code="model_not_found"]').count() == 1
                countdown = page.locator('#limits li[data-window="five_hour"] .countdown')
                assert countdown.text_content() not in ("", "–", "now (reset)")
                assert page.locator("#models li").all_text_contents() == models
                assert page.evaluate("sessionStorage.length") == 1

                out = artefact_dir(tmp_path)
                page.screenshot(path=str(out / "dashboard.png"), full_page=True)
                if os.environ.get("DASHBOARD_SCREENSHOT"):
                    page.screenshot(path=os.environ["DASHBOARD_SCREENSHOT"], full_page=True)
                phone = browser.new_page(
                    viewport={"width": 390, "height": 844}, color_scheme="dark"
                )
                phone.on("request", seen)
                phone.goto(f"{proxy.url}/dashboard")  # a new tab: its own session storage
                phone.wait_for_selector("#login:not([hidden])")
                phone.fill("#key", KEY)
                phone.click("#login button[type=submit]")
                phone.wait_for_selector("body[data-loaded=true]")
                width = phone.evaluate("document.documentElement.scrollWidth")
                assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
                phone.screenshot(path=str(out / "dashboard-phone-dark.png"), full_page=True)
            finally:
                browser.close()
        assert hosts == {urlsplit(proxy.url).netloc}, urls
        assert not any(KEY in url for url in urls)
        print(f"dashboard screenshots in {out}")


counts = "nodes => nodes.map(n => n.getAttribute('data-count'))"
