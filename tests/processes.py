"""Helpers for tests that run tertulia as a child process: a clean environment, a clean stop."""

from __future__ import annotations

import asyncio
import atexit
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# `tertulia` as the tests run it: this interpreter, the package from the repo.
CLI = (sys.executable, "-m", "adapters.cli")

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
    command: str,
    env: dict[str, str],
    *,
    env_file: str | Path = NO_SETTINGS,
    log: Path | None = None,
    **streams: Any,
) -> asyncio.subprocess.Process:
    """`tertulia --env-file ENV_FILE COMMAND` as a real child process, from the repo root.

    By default it reads no .env file. With `log`, its stderr is appended to that file (a
    restarted process adds to the same one); other `streams` go to create_subprocess_exec
    (stdin=, stdout=, stderr=).
    """
    if log is not None:
        with log.open("ab") as err:  # the child holds its own copy of the descriptor
            return await start_cli(command, env, env_file=env_file, stderr=err, **streams)
    return await asyncio.create_subprocess_exec(
        *CLI, "--env-file", str(env_file), command, cwd=ROOT, env=env, **streams
    )


def run_cli(
    args: Sequence[str],
    env: dict[str, str],
    *,
    stdin: str = "",
    timeout: float = 60,
    cwd: Path = ROOT,
) -> subprocess.CompletedProcess[str]:
    """`tertulia ARGS` run to its end with `env` as its whole environment: exit code and text.

    Blocking: from a test that serves a fake on its event loop, call it in a thread.
    """
    return subprocess.run(
        [*CLI, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
    )


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


async def stop(
    proc: asyncio.subprocess.Process,
    timeout: float,  # noqa: ASYNC109
    log: Path | None = None,
) -> int:
    """SIGTERM and its exit code, once it exits within `timeout` s.

    A process still running then is killed and the test fails, showing `log`.
    """
    try:
        await terminate(proc, timeout)
    except TimeoutError:
        logged = await asyncio.to_thread(log.read_text) if log is not None else ""
        raise AssertionError(f"no clean stop on SIGTERM:\n{logged}") from None
    assert proc.returncode is not None
    return proc.returncode


async def kill(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL `proc` if it still runs and reap it: a crash a test makes on purpose, or the
    clean-up after a test that failed before stopping it."""
    if proc.returncode is None:
        proc.kill()
        await proc.wait()
