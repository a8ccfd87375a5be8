"""What the browser test and the dashboard benchmark share: chromium's flags, a port, readiness."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import aiohttp

CHROMIUM = Path("/usr/bin/chromium")  # Debian's; Playwright's own download is never used
# Without the background-networking flags chromium's own connections are refused here.
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
CHART = "[data-testid='stVegaLiteChart'] svg.marks"  # a chart Vega has drawn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def output(log: Path) -> str:
    return log.read_text(errors="replace")


async def wait_healthy(port: int, proc: asyncio.subprocess.Process, log: Path) -> None:
    """Until Streamlit's health check answers; fails at once if the server died."""
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            assert proc.returncode is None, output(log)
            try:
                async with http.get(f"http://127.0.0.1:{port}/_stcore/health") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError(f"the dashboard never answered:\n{output(log)}")
