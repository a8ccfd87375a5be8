"""`tertulia` as a real subprocess: piped chat, start-up errors, help."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from adapters.console_text import RECORD_END
from tests.fakes.openai_server import FakeOpenAIServer
from tests.processes import NO_SETTINGS, ROOT, clean_env, run_cli


def tertulia(
    args: list[str], env: dict[str, str], stdin: str = "", timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`tertulia ARGS` reading no .env, with `env` over a clean environment."""
    return run_cli(
        ["--env-file", NO_SETTINGS, *args], {**clean_env(), **env}, stdin=stdin, timeout=timeout
    )


async def test_piped_chat_answers_each_line_and_remembers(tmp_path: Path) -> None:
    def reply(messages: list[dict[str, Any]]) -> str:
        users = [m["content"] for m in messages if m["role"] == "user"]
        return f"echo {len(users)}: {users[-1]}"

    async with FakeOpenAIServer(reply) as srv:
        env = {
            "TERTULIA_DB": str(tmp_path / "t.db"),
            "TERTULIA_BACKEND": "openai",
            "OPENAI_BASE_URL": srv.base_url,
            "OPENAI_API_KEY": "x",
            "LANG": "es_ES.UTF-8",
        }
        import asyncio

        done = await asyncio.to_thread(tertulia, ["chat"], env, "hola\nqué tal\n/lang\n\n/model\n")
    assert done.returncode == 0, done.stderr
    # Piped, each reply ends with a line holding the record separator (U+001E).
    replies = done.stdout.split(RECORD_END)
    assert replies[0] == "echo 1: hola\n"
    assert replies[1] == "echo 2: qué tal\n"
    assert replies[2].startswith("Idioma: español")
    assert replies[3] == ""  # the blank input line: an empty reply, so replies line up
    assert "Motor: openai" in replies[4]
    assert (tmp_path / "t.db").exists()


def test_piped_chat_on_the_bundled_local_model(tmp_path: Path) -> None:
    done = tertulia(
        ["chat"],
        {"TERTULIA_DB": str(tmp_path / "t.db"), "TERTULIA_MAX_OUTPUT_TOKENS": "16"},
        "Hello!\n",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip(), "the local model produced no text"


def test_run_without_platforms_opens_the_chat_and_says_how_to_connect(tmp_path: Path) -> None:
    done = tertulia(
        ["run"],
        {"TERTULIA_DB": str(tmp_path / "t.db"), "TERTULIA_BACKEND": "local"},
        "/help\n",
    )
    assert done.returncode == 0, done.stderr
    assert "TELEGRAM_BOT_TOKEN" in done.stderr and "DISCORD_BOT_TOKEN" in done.stderr
    assert "/persona" in done.stdout


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"TERTULIA_CONTEXT_TOKENS": "lots"}, "TERTULIA_CONTEXT_TOKENS"),
        ({"TERTULIA_BACKEND": "gemini"}, "GEMINI_API_KEY"),
        ({"TERTULIA_LOCAL_MODEL": "/no/such.gguf"}, "TERTULIA_LOCAL_MODEL"),
    ],
)
def test_bad_settings_exit_2_with_one_line(env: dict[str, str], variable: str) -> None:
    done = tertulia(["chat"], env)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and variable in done.stderr
    assert "Traceback" not in done.stderr


def test_a_directory_as_database_exits_2_naming_the_setting(tmp_path: Path) -> None:
    done = tertulia(["chat"], {"TERTULIA_DB": str(tmp_path)}, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "TERTULIA_DB" in done.stderr and done.stderr.count("\n") == 1


def test_a_file_that_is_not_a_database_exits_2_naming_the_setting(tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_bytes(b"this is not sqlite" * 100)
    done = tertulia(["chat"], {"TERTULIA_DB": str(bad)}, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "TERTULIA_DB" in done.stderr and done.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("command", "variable"), [("telegram", "TELEGRAM_BOT_TOKEN"), ("discord", "DISCORD_BOT_TOKEN")]
)
def test_platform_without_token_exits_2(command: str, variable: str) -> None:
    done = tertulia([command], {})
    assert done.returncode == 2 and variable in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("args", [["--help"], ["chat", "--help"], ["run", "--help"]])
def test_help_everywhere(args: list[str]) -> None:
    done = tertulia(args, {})
    assert done.returncode == 0 and "usage: tertulia" in done.stdout


def test_ctrl_c_at_the_terminal_prompt_exits_cleanly(tmp_path: Path) -> None:
    import pty
    import select
    import signal
    import time

    env = clean_env()
    env["TERTULIA_DB"] = str(tmp_path / "t.db")
    pid, fd = pty.fork()
    if pid == 0:  # the child: a real terminal, as a person would run it
        os.chdir(ROOT)
        os.execve(
            sys.executable,
            [sys.executable, "-m", "adapters.cli", "--env-file", NO_SETTINGS, "chat"],
            env,
        )
    screen = b""
    deadline = time.monotonic() + 60
    while b"\xe2\x80\xba" not in screen and time.monotonic() < deadline:  # the "›" prompt
        if select.select([fd], [], [], 1)[0]:
            try:
                screen += os.read(fd, 4096)
            except OSError:
                break
    assert b"Ctrl-D" in screen, screen
    os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + 15
    status = None
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if select.select([fd], [], [], 0.2)[0]:
            with contextlib.suppress(OSError):
                os.read(fd, 4096)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise AssertionError("tertulia chat did not exit on Ctrl-C")
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
