"""`tertulia chat` as a real process on a pipe: records, controls, bad bytes, Ctrl-C.

The model is the fake OpenAI server, the store a real SQLite file.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from asyncio.subprocess import PIPE
from pathlib import Path
from typing import Any

import pytest

from adapters.console_text import RECORD_END
from bot.i18n import t
from tests.fakes.openai_server import FakeOpenAIServer
from tests.processes import clean_env, kill, start_cli

# What a process that did not close its resources prints on its way out.
NOISE = ("Traceback", "Unclosed client session", "Unclosed connector", "Task was destroyed")
LONG = "".join(f"palabra{n} " for n in range(300))  # 6 s at 5 characters per 10 ms


def chat_env(model: FakeOpenAIServer, db: Path, **extra: str) -> dict[str, str]:
    return {
        **clean_env(),
        "TERTULIA_DB": str(db),
        "TERTULIA_BACKEND": "openai",
        "OPENAI_BASE_URL": model.base_url,
        "OPENAI_API_KEY": "x",
        "NO_PROXY": "127.0.0.1,localhost",
        "LANG": "es_ES.UTF-8",
        **extra,
    }


async def piped(env: dict[str, str], lines: bytes) -> tuple[list[str], str]:
    """Pipe `lines` to `tertulia chat` until it exits 0: its records and its stderr."""
    proc = await start_cli("chat", env, stdin=PIPE, stdout=PIPE, stderr=PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(lines), 60)
    finally:
        await kill(proc)
    assert proc.returncode == 0, err.decode()
    assert not any(noise in err.decode() for noise in NOISE), err.decode()
    return out.decode().split(RECORD_END), err.decode()


def echo(messages: list[dict[str, Any]]) -> str:
    return f"dijiste\n\n{messages[-1]['content']}"


async def test_each_piped_line_gets_one_record_even_with_blank_lines(tmp_path: Path) -> None:
    async with FakeOpenAIServer(echo) as model:
        records, _ = await piped(chat_env(model, tmp_path / "t.db"), b"hola\n\nadi\xc3\xb3s\n")
    assert records == ["dijiste\n\nhola\n", "", "dijiste\n\nadiós\n", ""]


async def test_escape_sequences_from_the_model_never_reach_the_terminal(tmp_path: Path) -> None:
    hostile = "a\x1b[2Jb\x1b]0;pwned\x07c\x1b]8;;https://x.example\x1b\\d\x9b31m\u202eexe.txt"
    async with FakeOpenAIServer(hostile, chunk=3) as model:
        records, _ = await piped(chat_env(model, tmp_path / "t.db"), b"hola\n")
    assert records == [
        "a^[[2Jb^[]0;pwned^Gc^[]8;;https://x.example^[\\d\ufffd31m\ufffdexe.txt\n",
        "",
    ]


async def test_a_line_that_is_not_utf8_is_skipped_with_one_line_saying_so(tmp_path: Path) -> None:
    async with FakeOpenAIServer(echo) as model:
        env = chat_env(model, tmp_path / "t.db")
        records, err = await piped(env, b"hola\n\xe9t\xe9 en latin-1\nadi\xc3\xb3s\n")
    assert records == ["dijiste\n\nhola\n", "", "dijiste\n\nadiós\n", ""]
    assert err == t("console_line_not_text", "es", line=2, encoding="UTF-8") + "\n"
    with sqlite3.connect(tmp_path / "t.db") as raw:
        asked = [text for (text,) in raw.execute("SELECT text FROM messages WHERE role = 'user'")]
    assert asked == ["hola", "adiós"]


async def test_a_character_the_terminal_cannot_show_does_not_lose_the_reply(
    tmp_path: Path,
) -> None:
    async with FakeOpenAIServer("café ☕ listo") as model:
        env = chat_env(model, tmp_path / "t.db", PYTHONIOENCODING="ascii")
        records, _ = await piped(env, b"hola\n")
    assert records == ["caf? ? listo\n", ""]


@pytest.mark.parametrize("leave", ["ctrl-c", "ctrl-d"])
async def test_ctrl_c_stops_the_answer_stores_it_interrupted_then_leaves(
    tmp_path: Path, leave: str
) -> None:
    db = tmp_path / "t.db"
    async with FakeOpenAIServer(LONG, chunk=5, chunk_delay=0.01) as model:
        proc = await start_cli("chat", chat_env(model, db), stdin=PIPE, stdout=PIPE, stderr=PIPE)
        assert proc.stdin and proc.stdout and proc.stderr
        try:
            proc.stdin.write(b"hola\n")
            await proc.stdin.drain()
            shown = await asyncio.wait_for(proc.stdout.readuntil(b"palabra3"), 60)
            proc.send_signal(signal.SIGINT)
            note = await asyncio.wait_for(proc.stderr.readline(), 15)
            assert note.decode() == t("console_stopped", "es") + "\n"
            shown += await asyncio.wait_for(proc.stdout.readuntil(RECORD_END.encode()), 5)
            with sqlite3.connect(db) as raw:
                [(text, outcome)] = raw.execute(
                    "SELECT text, outcome FROM messages WHERE role = 'assistant'"
                ).fetchall()
            if leave == "ctrl-c":
                proc.send_signal(signal.SIGINT)
            else:
                proc.stdin.close()
            out, err = await asyncio.wait_for(proc.communicate(), 15)
        finally:
            await kill(proc)
    assert outcome == "interrupted" and text and LONG.startswith(text)
    partial = shown.decode().removesuffix("\n" + RECORD_END)
    assert LONG.startswith(partial) and len(partial) < len(LONG) / 2
    assert proc.returncode == 0 and out == b""
    assert not any(noise in err.decode() for noise in NOISE), err.decode()
