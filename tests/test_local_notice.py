"""The small offline model says what it is, and how to connect a better one, in the person's language."""

from __future__ import annotations

import os
import select
import signal
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import MakeEngine, collect, command
from tests.fakes.model import FakeModel
from tests.fakes.openai_server import FakeOpenAIServer
from tests.processes import NO_SETTINGS, clean_env

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = ("TERTULIA_BACKEND=gemini", "GEMINI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_KEY")


class LocalLike(FakeModel):
    """The fake model at the port, presenting itself as the local backend does."""

    backend = "local"


@pytest.mark.parametrize(
    ("lang", "words"), [("en", "small offline model"), ("es", "modelo pequeño sin conexión")]
)
@pytest.mark.parametrize("name", ["/start", "/model"])
async def test_start_and_model_say_it_is_a_small_offline_model(
    make_engine: MakeEngine, name: str, lang: str, words: str
) -> None:
    engine = make_engine(LocalLike(model="SmolLM2-135M-Instruct.Q4_1.gguf"))
    answer = await collect(engine, command(name, language=lang))
    assert words in answer and "SmolLM2-135M" in answer
    for setting in SETTINGS:
        assert setting in answer


@pytest.mark.parametrize("name", ["/start", "/model"])
async def test_no_notice_for_other_backends(make_engine: MakeEngine, name: str) -> None:
    answer = await collect(make_engine(FakeModel()), command(name, language="es"))
    assert answer.strip()
    assert "GEMINI_API_KEY" not in answer and "sin conexión" not in answer


def terminal_banner(env: dict[str, str]) -> str:
    """What `tertulia chat` prints at a real terminal up to its prompt; then Ctrl-D."""
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child: a real terminal, as a person would run it
        os.chdir(ROOT)
        cmd = [sys.executable, "-m", "adapters.cli", "--env-file", NO_SETTINGS, "chat"]
        os.execve(sys.executable, cmd, env)
    screen = b""
    deadline = time.monotonic() + 60
    try:
        while "›".encode() not in screen and time.monotonic() < deadline:
            if select.select([fd], [], [], 1)[0]:
                try:
                    screen += os.read(fd, 4096)
                except OSError:
                    break
    finally:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
        os.close(fd)
    return screen.decode("utf-8", errors="replace")


def test_terminal_banner_on_the_local_model_in_spanish(tmp_path: Path) -> None:
    env = {**clean_env(), "TERTULIA_DB": str(tmp_path / "t.db"), "LANG": "es_ES.UTF-8"}
    screen = terminal_banner(env)
    assert "Ctrl-D" in screen, screen
    assert "modelo pequeño sin conexión" in screen
    for setting in SETTINGS:
        assert setting in screen


async def test_terminal_banner_without_the_notice_on_another_backend(tmp_path: Path) -> None:
    import asyncio

    async with FakeOpenAIServer(lambda messages: "ok") as srv:
        env = {
            **clean_env(),
            "TERTULIA_DB": str(tmp_path / "t.db"),
            "TERTULIA_BACKEND": "openai",
            "OPENAI_BASE_URL": srv.base_url,
            "OPENAI_API_KEY": "x",
            "NO_PROXY": "127.0.0.1,localhost",
            "LANG": "en_US.UTF-8",
        }
        screen = await asyncio.to_thread(terminal_banner, env)
    assert "Ctrl-D" in screen, screen
    assert "offline" not in screen and "GEMINI_API_KEY" not in screen
