"""A real browser on the real server: `tertulia dashboard` as a process, Debian's chromium via Playwright."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dashboard.browser import ARGS, CHART, CHROMIUM, free_port, output, wait_healthy
from tests.fakes.openai_server import FakeOpenAIServer
from tests.processes import clean_env, kill, start_cli, terminate

pytest.importorskip("playwright", reason="Playwright is not installed: run `make dashboard-test`")
from playwright.async_api import Page, async_playwright  # noqa: E402
from playwright.async_api import TimeoutError as PlaywrightTimeout  # noqa: E402

REPLY = "Streamed from the fake model, a few characters at a time, until the very last word."
PNG = b"\x89PNG\r\n\x1a\n"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed: apt-get install chromium"
)


async def chat(page: Page) -> None:
    """Send a playground message and see the answer arrive in pieces, then whole."""
    await page.get_by_role("link", name="Playground").click()
    box = page.get_by_placeholder("Write a message")
    await box.fill("hola desde el navegador")
    await box.press("Enter")
    # Part of the answer is on the page while its end has not arrived yet: it streams.
    await page.wait_for_function(
        "([start, end]) => document.body.innerText.includes(start)"
        " && !document.body.innerText.includes(end)",
        arg=[REPLY[:20], REPLY[-15:]],
        timeout=30_000,
        polling=50,
    )
    await page.get_by_text(REPLY).first.wait_for(timeout=30_000)


async def overview(page: Page) -> None:
    """Open the Overview page. A click that lands while Streamlit is still rerunning the
    playground (after the answer, to add its rating buttons) is lost: click until it goes."""
    for _ in range(10):
        await page.get_by_role("link", name="Overview").click()
        try:
            await page.wait_for_url(lambda url: "playground" not in url, timeout=3_000)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError(f"the Overview page never opened: still at {page.url}")


@pytest.mark.timeout(300)  # its waits add up past the suite's 120 s on a loaded machine
async def test_a_browser_chats_in_the_playground_and_opens_the_charts(
    filled: Path, tmp_path: Path
) -> None:
    port = free_port()
    log = tmp_path / "dashboard.log"
    # About 4 s of streaming: a loaded machine still shows the answer part-way through.
    async with FakeOpenAIServer(REPLY, chunk=5, chunk_delay=0.25) as llm:
        env = {
            **clean_env(),
            "NO_PROXY": "127.0.0.1,localhost",
            "TERTULIA_DB": str(filled),
            "TERTULIA_BACKEND": "openai",
            "OPENAI_BASE_URL": llm.base_url,
            "OPENAI_API_KEY": "x",
            "TERTULIA_LEARN": "off",
            "TERTULIA_DASHBOARD_PORT": str(port),
        }
        with log.open("wb") as out:
            proc = await start_cli("dashboard", env, stdout=out, stderr=out)
        try:
            await wait_healthy(port, proc, log)
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
                page = await browser.new_page(viewport={"width": 1400, "height": 1000})
                await page.goto(f"http://127.0.0.1:{port}/")
                await page.get_by_role("heading", name="Overview").wait_for(timeout=30_000)
                await chat(page)
                assert llm.requests[-1]["messages"][-1]["content"] == "hola desde el navegador"
                await overview(page)
                drawn = page.locator(CHART)
                # All five drawn, however long a loaded machine takes (no fixed sleep).
                # Polled on a timer: requestAnimationFrame, the default, may not fire for
                # a headless page that has nothing to repaint.
                await page.wait_for_function(
                    f"document.querySelectorAll({CHART!r}).length >= 5",
                    timeout=30_000,
                    polling=100,
                )
                assert await drawn.count() == 5
                assert await page.get_by_text("Messages per day").is_visible()
                shot = tmp_path / "overview.png"
                await page.screenshot(path=shot, full_page=True)
                await browser.close()
            await terminate(proc, 30)
        finally:
            await kill(proc)
    assert proc.returncode == 0, output(log)
    assert shot.read_bytes().startswith(PNG) and shot.stat().st_size > 20_000
    # The playground's store was closed, not abandoned: the last connection took the WAL.
    assert not filled.with_name(filled.name + "-wal").exists()
    assert "Traceback" not in output(log)
