"""The console surface: a reply's file written next to the database, privately, never over another."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import sqlite3
import stat
from asyncio.subprocess import PIPE
from pathlib import Path

import pytest

from adapters.console import ConsoleSurface, chat, safe_name
from adapters.console_text import RECORD_END
from adapters.delivery import Delivery, Policy, deliver
from adapters.runtime import personas
from adapters.session import Session
from bot.engine import Engine
from bot.i18n import t
from bot.types import Attachment, Done, IncomingMessage, Outcome, ReplyEvent, TurnRef
from storage.sqlite import SqliteStore
from tests.delivery.surfaces import Clock, timed
from tests.fakes.engine import ScriptedEngine
from tests.fakes.model import FakeModel
from tests.processes import clean_env, start_cli

REF = TurnRef(1, 1, 1, 2)
DATA = b'{"name": "Ana \xc3\xa9"}\r\n\x00\xff'
FILE = Attachment("tertulia-console-20260101.json", DATA)
TEXT = "Here is everything I keep about you."
PRINTED = re.compile(r"(?:Your data is in|Tus datos están en) (.+)$", re.MULTILINE)


def surface(out: io.StringIO, files: Path, lang: str = "en") -> ConsoleSurface:
    async def language() -> str:
        return lang

    return ConsoleSurface(out, files, language)


async def export(into: ConsoleSurface, file: Attachment = FILE) -> Delivery[int]:
    clock = Clock()
    steps: list[tuple[float, ReplyEvent]] = [(0.0, TEXT), (0.0, Done(REF, Outcome.OK, "", file))]
    return await deliver(timed(clock, *steps), into, clock.policy(interval=0))


def printed(out: io.StringIO | str) -> list[Path]:
    """The paths the console said it wrote."""
    text = out if isinstance(out, str) else out.getvalue()
    return [Path(p) for p in PRINTED.findall(text)]


async def test_the_file_is_written_for_its_owner_only_and_its_path_printed(
    tmp_path: Path,
) -> None:
    out = io.StringIO()
    result = await export(surface(out, tmp_path))
    [path] = printed(out)
    assert result.delivered and result.attached
    assert out.getvalue() == f"{TEXT}\n{t('export_written', 'en', path=path)}"
    assert path.parent.samefile(tmp_path) and path.name == FILE.name
    assert path.read_bytes() == DATA
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_the_line_is_in_the_person_s_language(tmp_path: Path) -> None:
    out = io.StringIO()
    await export(surface(out, tmp_path, "es"))
    [path] = printed(out)
    assert out.getvalue().endswith(f"\nTus datos están en {path}")


async def test_a_file_never_overwrites_another(tmp_path: Path) -> None:
    (tmp_path / FILE.name).write_bytes(b"an earlier export")
    elsewhere = tmp_path / "elsewhere"
    (tmp_path / "tertulia-console-20260101-1.json").symlink_to(elsewhere)  # dangling
    one, two = io.StringIO(), io.StringIO()
    await export(surface(one, tmp_path))
    await export(surface(two, tmp_path))
    [first], [second] = printed(one), printed(two)
    assert (first.name, second.name) == (
        "tertulia-console-20260101-2.json",
        "tertulia-console-20260101-3.json",
    )
    assert first.read_bytes() == second.read_bytes() == DATA
    assert (tmp_path / FILE.name).read_bytes() == b"an earlier export"
    assert not elsewhere.exists()  # the link was not followed


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("/tmp/x.json", "x.json"),
        ("..\\..\\windows\\x.json", "x.json"),
        (".bashrc", "bashrc"),
        ("..", "export"),
        ("", "export"),
        ("datos de Ana; rm -rf ~.json", "datos_de_Ana_rm_-rf_.json"),
    ],
)
def test_a_file_name_loses_every_path_component(name: str, safe: str) -> None:
    assert safe_name(name) == safe


async def test_a_hostile_name_still_lands_in_the_directory(tmp_path: Path) -> None:
    files = tmp_path / "data"
    files.mkdir()
    out = io.StringIO()
    await export(surface(out, files), Attachment("../../escape.json", DATA))
    [path] = printed(out)
    assert path.parent.samefile(files) and path.name == "escape.json"
    assert path.read_bytes() == DATA and os.listdir(tmp_path) == ["data"]


async def test_a_file_that_cannot_be_written_leaves_the_reply_undelivered(
    tmp_path: Path,
) -> None:
    out = io.StringIO()
    result = await export(surface(out, tmp_path / "missing"))
    assert result.broken and not result.delivered and not result.attached
    assert out.getvalue() == TEXT and printed(out) == []


async def test_chat_writes_an_export_where_it_is_told(tmp_path: Path) -> None:
    def exporting(msg: IncomingMessage) -> list[ReplyEvent]:
        return [TEXT, Done(REF, Outcome.OK, attachment=FILE)]

    engine = ScriptedEngine(exporting)
    stdout = io.StringIO()
    await chat(Session(engine, Policy(interval=0)), tmp_path, io.StringIO("/export\n"), stdout)
    [path] = printed(stdout)
    assert stdout.getvalue() == f"{TEXT}\nYour data is in {path}\n{RECORD_END}"
    assert path.read_bytes() == DATA and engine.undelivered_refs == []


async def test_the_terminal_chat_exports_next_to_the_database(tmp_path: Path) -> None:
    db = tmp_path / "db" / "tertulia.db"
    env = {
        **clean_env(),
        "TERTULIA_DB": str(db),
        "TERTULIA_BACKEND": "openai",
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",  # /export never asks the model
        "OPENAI_API_KEY": "x",
        "LANG": "es_ES.UTF-8",
    }
    proc = await start_cli("chat", env, stdin=PIPE, stdout=PIPE, stderr=PIPE)
    out, err = await asyncio.wait_for(proc.communicate(b"/export\n"), 60)
    assert proc.returncode == 0, err.decode()
    [path] = printed(out.decode())
    assert out.decode().endswith(f"Tus datos están en {path}\n{RECORD_END}")
    assert path.parent.samefile(db.parent)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_bytes())  # the engine's export, whole


async def test_good_bad_and_retry_rate_and_redo_the_last_answer_in_the_terminal(
    tmp_path: Path,
) -> None:
    model = FakeModel()
    model.queue += ["Primera.", "Segunda."]
    db = tmp_path / "tertulia.db"
    async with SqliteStore(db) as store:
        engine = Engine(store, model, personas=personas())
        lines = "hola\n/bad muy corta\n/retry\n/good\n"
        stdout = io.StringIO()
        await chat(Session(engine, Policy(interval=0)), tmp_path, io.StringIO(lines), stdout)
    said = stdout.getvalue()
    assert said.split(RECORD_END) == [
        "Primera.\n",
        t("rated_down_reason", "en") + "\n",
        "Segunda.\n",
        t("rated_up", "en") + "\n",
        "",
    ]
    with sqlite3.connect(db) as raw:
        stored = raw.execute(
            "SELECT text, outcome, rating, rating_reason FROM messages"
            " WHERE role = 'assistant' ORDER BY id"
        ).fetchall()
    assert stored == [("Primera.", "superseded", -1, "muy corta"), ("Segunda.", "ok", 1, None)]
