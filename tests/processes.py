"""Helpers for tests that run tertulia as a child process: a clean environment, a clean stop."""

from __future__ import annotations

import asyncio
import atexit
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# Settings read from these would leak the developer's own configuration into a test.
OWN_PREFIXES = ("TERTULIA_", "GEMINI_", "OPENAI_", "TELEGRAM_", "DISCORD_")


def _no_settings() -> str:
    """An empty settings file only we may read, removed at exit: `--env-file` must exist."""
    fd, path = tempfile.mkstemp(prefix="tertulia-test-", suffix=".env")
    os.close(fd)
    atexit.register(Path(path).unlink, missing_ok=True)
    return path


# `--env-file NO_SETTINGS`: a child reads no .env, only the environment the test gives it.
NO_SETTINGS = _no_settings()


def clean_env() -> dict[str, str]:
    """os.environ without any tertulia, model or platform setting."""
    return {k: v for k, v in os.environ.items() if not k.startswith(OWN_PREFIXES)}


async def start_cli(
    command: str, env: dict[str, str], **streams: Any
) -> asyncio.subprocess.Process:
    """`tertulia COMMAND` as a real child process, reading no .env file, from the repo root.

    `streams` go to create_subprocess_exec (stdout=, stderr=).
    """
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapters.cli", "--env-file", NO_SETTINGS, command,
        cwd=ROOT, env=env, **streams,
    )  # fmt: skip


async def terminate(proc: asyncio.subprocess.Process, timeout: float) -> bytes:  # noqa: ASYNC109
    """SIGTERM, then wait up to `timeout` s for the exit: its stderr (b"" unless piped).

    A process still running then is killed and TimeoutError raised.
    """
    proc.send_signal(signal.SIGTERM)
    try:
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        await kill(proc)
        raise
    return stderr or b""


async def kill(proc: asyncio.subprocess.Process) -> None:
    """Kill `proc` if it still runs (a test failed before stopping it) and reap it."""
    if proc.returncode is None:
        proc.kill()
        await proc.wait()
