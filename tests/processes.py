"""Helpers for tests that run tertulia as a child process: a clean environment, a clean stop."""

from __future__ import annotations

import asyncio
import os
import signal

# Settings read from these would leak the developer's own configuration into a test.
OWN_PREFIXES = ("TERTULIA_", "GEMINI_", "OPENAI_", "TELEGRAM_", "DISCORD_")


def clean_env() -> dict[str, str]:
    """os.environ without any tertulia, model or platform setting."""
    return {k: v for k, v in os.environ.items() if not k.startswith(OWN_PREFIXES)}


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
