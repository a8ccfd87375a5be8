"""No token, key or password in logs, errors or exports, at any log level; `.env` permissions.

Before: at DEBUG, python-telegram-bot wrote the bot token twice at start-up (the Bot API URL
and the file URL). Now every line goes through one handler that masks each configured
secret (as is, URL-encoded, escaped) and credentials of a known shape.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from adapters import logs
from config.settings import Settings
from tests.adapters.telegram_harness import ANA, BEN, bot_starter
from tests.fakes.discord_api import TOKEN as DISCORD_TOKEN
from tests.fakes.discord_api import FakeDiscord, FakeFile, FakeMessage
from tests.fakes.engine import ScriptedEngine
from tests.fakes.gemini_server import Failure, FakeGeminiServer, Reply
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.processes import clean_env, kill, start_cli, terminate

# Every secret setting, each in the shape the real one has.
SECRETS = {
    "TELEGRAM_BOT_TOKEN": "7312345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw9",
    "DISCORD_BOT_TOKEN": DISCORD_TOKEN,  # the fake Discord accepts this one only
    "GEMINI_API_KEY": "AIzaSyD-fakeGeminiKey_0123456789abcdef",
    "OPENAI_API_KEY": "sk-fake-openai-key-0123456789abcdefXYZ",
    "TELEGRAM_WEBHOOK_SECRET": "hook-secret-0123456789",
    "TERTULIA_DASHBOARD_PASSWORD": 'pä ss/wörd&1 "quoted"',
}


def forms(value: str) -> set[str]:
    """How a secret could show up in a line: as is, URL-encoded, JSON-escaped."""
    return {value, quote(value, safe=""), quote_plus(value, safe=""), json.dumps(value)[1:-1]}


def leaks(text: str, secrets: dict[str, str] = SECRETS) -> list[str]:
    return [
        f"{name} as {form!r}" for name, v in secrets.items() for form in forms(v) if form in text
    ]


def settings(**secrets: str) -> Settings:
    values: dict[str, Any] = dict(secrets)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


# -- the redactor --------------------------------------------------------------------


def test_every_secret_setting_is_found() -> None:
    found = logs.secrets_of(settings(**SECRETS))
    assert found == SECRETS
    secret_fields = [
        n for n, f in Settings.model_fields.items() if "SecretStr" in str(f.annotation)
    ]
    assert len(secret_fields) == len(SECRETS)  # a new secret setting is covered by this test


def test_each_written_form_is_masked_with_its_name() -> None:
    redact = logs.Redactor(SECRETS)
    for name, value in SECRETS.items():
        for form in forms(value):
            line = f"GET http://host/x/{form}/getMe failed: {form!r}"
            masked = redact(line)
            assert not leaks(masked), masked
            assert f"<{name}>" in masked


def test_credentials_of_a_known_shape_are_masked_even_when_not_configured() -> None:
    redact = logs.Redactor({})
    lines = {
        "https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw9/getMe": (
            "https://api.telegram.org/bot<credential>/getMe"
        ),
        "token=123456789%3AAAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw9": "token=<credential>",
        "key AIzaSyA1234567890abcdefghijklmnopqrstuv.": "key <credential>.",
        "Authorization: Bearer sk-proj-abcdefghijklmnopqrstuvwx": "Authorization: Bearer <credential>",
        "MTA5ODc2NTQzMjEwOTg3NjU0.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789": "<credential>",
    }
    for line, masked in lines.items():
        assert redact(line) == masked
    ordinary = "2026-06-01 12:00:01,123 INFO x: chat 123456789 at 17:57:25, model gpt-4o-mini"
    assert redact(ordinary) == ordinary


def test_values_too_short_to_tell_from_words_are_left_alone() -> None:
    redact = logs.Redactor({"OPENAI_API_KEY": "x"})  # what Ollama's users set
    assert redact("max tokens exceeded") == "max tokens exceeded"


def test_the_formatter_masks_arguments_tracebacks_and_stacks() -> None:
    token = SECRETS["TELEGRAM_BOT_TOKEN"]
    out = io.StringIO()
    record_to = logging.getLogger("tests.secrets.formatter")
    record_to.propagate = False
    record_to.addHandler(logs.handler(settings(TELEGRAM_BOT_TOKEN=token), out))
    try:
        try:
            raise RuntimeError(f"POST http://127.0.0.1/bot{token}/sendMessage refused")
        except RuntimeError:
            record_to.exception("call to %s failed", f"/bot{quote(token, safe='')}/getMe")
        record_to.error("where from", stack_info=True, extra={"url": token})
    finally:
        record_to.handlers.clear()
    text = out.getvalue()
    assert "Traceback" in text and "RuntimeError" in text and "Stack (most recent" in text
    assert text.count("<TELEGRAM_BOT_TOKEN>") == 2
    assert not leaks(text)


def test_an_uncaught_exception_is_printed_masked(capsys: pytest.CaptureFixture[str]) -> None:
    hook = logs._redacted_excepthook(logs.Redactor(SECRETS))
    try:
        raise ValueError(f"bad key {SECRETS['GEMINI_API_KEY']}")
    except ValueError as exc:
        hook(type(exc), exc, exc.__traceback__)
    err = capsys.readouterr().err
    assert "ValueError: bad key <GEMINI_API_KEY>" in err and not leaks(err)


# -- sessions at DEBUG ----------------------------------------------------------------


async def test_an_in_process_telegram_session_at_debug_logs_no_secret() -> None:
    token = FakeTelegramAPI().token  # the harness's fake and bot use this one
    secrets = {**SECRETS, "TELEGRAM_BOT_TOKEN": token}
    masked, plain = io.StringIO(), io.StringIO()
    handlers = [logs.handler(settings(**secrets), masked), logging.StreamHandler(plain)]
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.DEBUG)
    for h in handlers:
        root.addHandler(h)
    try:
        async with bot_starter() as start:
            bot = await start(ScriptedEngine("Hi!"))
            bot.api.push_text(ANA, ANA, "hello")
            assert await bot.answered(ANA) == ["Hi!"]
            bot.api.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
            bot.api.push_text(BEN, BEN, "hello")
            await bot.settled()
            assert bot.api.errors[-1][:2] == ("sendMessage", 403)
    finally:
        for h in handlers:
            root.removeHandler(h)
        root.setLevel(level)
    assert token in plain.getvalue()  # the leak is real: PTB writes the Bot API URL
    text = masked.getvalue()
    assert "<TELEGRAM_BOT_TOKEN>" in text
    assert not leaks(text, secrets), leaks(text, secrets)


def process_env(**extra: str) -> dict[str, str]:
    """Every secret set, every log line written."""
    return {
        **clean_env(),
        **SECRETS,
        "NO_PROXY": "127.0.0.1,localhost",
        "TERTULIA_LOG_LEVEL": "DEBUG",
        "TERTULIA_MODEL_RETRIES": "0",
        "TERTULIA_EMBEDDER": "none",
        "TERTULIA_LEARN": "off",  # one model call per message: the failures land where meant
        "TERTULIA_EDIT_INTERVAL": "0.1",
        **extra,
    }


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_a_telegram_process_at_debug_logs_no_secret(log_format: str, tmp_path: Path) -> None:
    log = tmp_path / "telegram.log"
    async with (
        FakeTelegramAPI(token=SECRETS["TELEGRAM_BOT_TOKEN"]) as api,
        FakeGeminiServer(Reply(("Hola",)), key=SECRETS["GEMINI_API_KEY"]) as gemini,
    ):
        env = process_env(
            TELEGRAM_API_BASE_URL=api.root,
            TERTULIA_DB=str(tmp_path / "t.db"),
            TERTULIA_BACKEND="gemini",
            GEMINI_BASE_URL=gemini.base_url,
            TERTULIA_LOG_FORMAT=log_format,
        )
        with log.open("wb") as err:
            proc = await start_cli("telegram", env, stdout=asyncio.subprocess.DEVNULL, stderr=err)
        try:
            await api.wait_for(lambda: api.calls_of("getUpdates"), timeout=30)
            api.push_text(ANA, ANA, "hola")
            await api.wait_for(lambda: api.texts(ANA) == ["Hola"], timeout=15)
            gemini.script(Failure(500, "the model broke"))  # a model error, told to Ana
            api.push_text(ANA, ANA, "otra")
            await api.wait_for(lambda: len(api.texts(ANA)) == 2, timeout=15)
            api.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
            api.push_text(BEN, BEN, "hola")  # a refused send
            await api.wait_for(lambda: ("sendMessage", 403) in [e[:2] for e in api.errors])
            # The poll in flight brings /export; the next ones fail: tracebacks at ERROR.
            api.fail_for("getUpdates", 1.0, 502)
            api.push_text(ANA, ANA, "/export")
            await api.wait_for(lambda: ("getUpdates", 502) in [e[:2] for e in api.errors])
            await api.wait_for(lambda: api.documents.get(ANA), timeout=15)
            await terminate(proc, 15)
        finally:
            await kill(proc)
    text = log.read_text()
    assert proc.returncode == 0, text[-3000:]
    assert gemini.requests and gemini.requests[0].headers["x-goog-api-key"]  # the key was used
    assert "<TELEGRAM_BOT_TOKEN>" in text and "Traceback" in text
    assert not leaks(text), leaks(text)
    export = api.documents[ANA][0].data.decode()
    assert "hola" in export and not leaks(export)
    if log_format == "json":
        # Every line, DEBUG and tracebacks included, is one JSON object.
        records = [json.loads(line) for line in text.splitlines()]
        assert any(r["level"] == "DEBUG" for r in records)
        assert any("<TELEGRAM_BOT_TOKEN>" in json.dumps(r) for r in records)  # masked, not lost
        assert any("Traceback" in r.get("exc_info", "") for r in records)
        replies = [r["outcome"] for r in records if r["logger"] == "tertulia.reply"]
        assert replies == ["ok", "failed", "undelivered"], replies  # /export: a command


async def test_a_discord_process_at_debug_logs_no_secret(tmp_path: Path) -> None:
    log = tmp_path / "discord.log"
    async with FakeDiscord() as fake, FakeOpenAIServer("Hola") as llm:
        env = process_env(
            DISCORD_API_BASE_URL=f"http://127.0.0.1:{fake.port}",
            DISCORD_GATEWAY_URL=fake.gateway_url,
            TERTULIA_DB=str(tmp_path / "t.db"),
            TERTULIA_BACKEND="openai",
            OPENAI_BASE_URL=llm.base_url,
        )
        with log.open("wb") as err:
            proc = await start_cli("discord", env, stdout=asyncio.subprocess.DEVNULL, stderr=err)
        try:
            await fake.wait_for(lambda: fake.identifies and fake.commands, timeout=30)
            first = await fake.dm(77, "hola")
            await fake.wait_for(lambda: replied(fake, first, "Hola"), timeout=15)
            llm.fail_next(500, message="the model broke")  # a model error, told to the user
            second = await fake.dm(77, "otra")
            await fake.wait_for(lambda: replied(fake, second, ""), timeout=15)
            refused = fake.fail("POST", r"/channels/5078/messages", 403, code=50007)
            await fake.dm(78, "hola")  # a refused send
            await fake.wait_for(lambda: refused.hits, timeout=15)
            inter = await fake.slash("export", user_id=77, channel_id=5077)
            sent = await fake.wait_for(lambda: files_for(fake, inter.followups), timeout=15)
            await terminate(proc, 20)
        finally:
            await kill(proc)
    text = log.read_text()
    assert proc.returncode == 0, text[-3000:]
    assert any(SECRETS["OPENAI_API_KEY"] in str(h) for h in llm.headers)  # the key was used
    assert not leaks(text), leaks(text)
    export = sent[0].data.decode()
    assert "hola" in export and not leaks(export)


def replied(fake: FakeDiscord, mid: int, text: str) -> FakeMessage | None:
    """The bot's reply to `mid`, once its content starts with `text` (any content for "")."""
    found = next((m for m in fake.bot_messages() if m.reply_to == mid), None)
    return found if found is not None and found.content.startswith(text) else None


def files_for(fake: FakeDiscord, message_ids: list[int]) -> list[FakeFile]:
    return [f for mid in message_ids if mid in fake.messages for f in fake.messages[mid].files]


# -- the settings file's permissions --------------------------------------------------


async def run_with_env_file(env_file: Path) -> tuple[int, list[str]]:
    """`tertulia run` reading `env_file` (one platform, whose token is refused): exit and stderr."""
    env = {**clean_env(), "NO_PROXY": "127.0.0.1,localhost"}
    proc = await start_cli("run", env, env_file=env_file, stdout=asyncio.subprocess.DEVNULL,
                           stderr=asyncio.subprocess.PIPE)  # fmt: skip
    try:
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        await kill(proc)
    assert proc.returncode is not None
    return proc.returncode, err.decode().splitlines()


async def test_a_settings_file_others_can_read_is_warned_about_once(tmp_path: Path) -> None:
    env_file = tmp_path / "tertulia.env"
    async with FakeTelegramAPI() as api, FakeOpenAIServer() as llm:
        wrong = "123456:WRONG-token-that-getMe-refuses"
        env_file.write_text(
            f"TELEGRAM_BOT_TOKEN={wrong}\nTELEGRAM_API_BASE_URL={api.root}\n"
            f"TERTULIA_DB={tmp_path / 't.db'}\nTERTULIA_BACKEND=openai\n"
            f"OPENAI_BASE_URL={llm.base_url}\nOPENAI_API_KEY={SECRETS['OPENAI_API_KEY']}\n"
        )
        env_file.chmod(0o644)  # what `cp .env.example .env` gives with the usual umask
        code, lines = await run_with_env_file(env_file)
        warned = [line for line in lines if "chmod 600" in line]
        assert code == 2, lines  # the refused token: the supervisor and its child stop
        assert len(warned) == 1, lines  # the supervisor's; its child does not repeat it
        assert "WARNING" in warned[0] and str(env_file) in warned[0]
        assert not leaks("\n".join(lines), {"t": wrong, "k": SECRETS["OPENAI_API_KEY"]})

        env_file.chmod(0o600)
        code, lines = await run_with_env_file(env_file)
        assert code == 2, lines
        assert not [line for line in lines if "chmod" in line], lines
