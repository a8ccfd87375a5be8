"""Start-up checks: a setting that cannot work stops `tertulia` at once, one line and exit 2.

The refused keys and unknown models come from the real SDKs against the fake servers;
an unreachable server is a warning, not a refusal: it may come back.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
from pathlib import Path

import pytest
from aiohttp import web

from bot.models import OptionRefused
from bot.models.gemini import GeminiModel
from bot.models.openai_compat import OpenAIModel
from tests.fakes.gemini_server import Failure, FakeGeminiServer
from tests.fakes.openai_server import FakeOpenAIServer
from tests.processes import NO_SETTINGS, ROOT, clean_env, run_cli

GEMINI_KEY = "AIzaGoodKey-1234567890"
OPENAI_KEY = "sk-good-key-1234567890"
WRONG_KEY = "sk-wrong-key-0987654321"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def tertulia(
    env: dict[str, str], *args: str, cwd: Path = ROOT, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """`tertulia --env-file NO_SETTINGS chat` (or `args`) with `env`, as a real process."""
    return run_cli(
        args or ("--env-file", NO_SETTINGS, "chat"),
        {**clean_env(), "PYTHONPATH": str(ROOT), "NO_PROXY": "127.0.0.1,localhost", **env},
        stdin=stdin,
        cwd=cwd,
    )


async def run(env: dict[str, str], *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    """tertulia() off the event loop, so the fake servers keep answering."""
    return await asyncio.to_thread(tertulia, env, *args, **kw)  # type: ignore[arg-type]


def assert_refused(done: subprocess.CompletedProcess[str], variable: str) -> None:
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"tertulia: {variable}: "), done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# -- settings that cannot work, before anything is opened ----------------------------


def test_an_env_file_that_does_not_exist_is_one_line_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "prod.env"
    done = tertulia({}, "--env-file", str(missing), "chat")
    assert done.returncode == 2
    assert done.stderr == f"tertulia: --env-file {missing}: no such file\n"


def test_a_directory_as_env_file_is_one_line_naming_it(tmp_path: Path) -> None:
    done = tertulia({}, "--env-file", str(tmp_path), "chat")
    assert done.returncode == 2 and done.stderr.startswith(f"tertulia: --env-file {tmp_path}:")


async def test_the_default_env_file_may_be_missing(tmp_path: Path) -> None:
    async with FakeOpenAIServer() as srv:
        env = {"TERTULIA_DB": str(tmp_path / "t.db"), "OPENAI_BASE_URL": srv.base_url}
        done = await run(env, "chat", cwd=tmp_path)  # no --env-file, and no .env there
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_openai_without_key_or_base_url_names_both() -> None:
    done = tertulia({"TERTULIA_BACKEND": "openai"})
    assert done.returncode == 2
    assert done.stderr == (
        "tertulia: OPENAI_API_KEY or OPENAI_BASE_URL is required when TERTULIA_BACKEND=openai\n"
    )


# -- keys and models the server refuses -------------------------------------------------


async def test_a_gemini_key_the_server_refuses_names_gemini_api_key(tmp_path: Path) -> None:
    async with FakeGeminiServer(key=GEMINI_KEY) as srv:
        env = {
            "TERTULIA_DB": str(tmp_path / "t.db"),
            "GEMINI_API_KEY": WRONG_KEY,
            "GEMINI_BASE_URL": srv.base_url,
        }
        done = await run(env)
    assert_refused(done, "GEMINI_API_KEY")
    assert "API key not valid" in done.stderr and WRONG_KEY not in done.stderr
    assert srv.lookups == ["gemini-flash-latest"] and srv.requests == []


async def test_an_unknown_gemini_model_names_gemini_model(tmp_path: Path) -> None:
    async with FakeGeminiServer(key=GEMINI_KEY, models=("gemini-flash-latest",)) as srv:
        env = {
            "TERTULIA_DB": str(tmp_path / "t.db"),
            "GEMINI_API_KEY": GEMINI_KEY,
            "GEMINI_BASE_URL": srv.base_url,
            "GEMINI_MODEL": "gemini-9-ultra",
        }
        done = await run(env)
    assert_refused(done, "GEMINI_MODEL")
    assert "'gemini-9-ultra'" in done.stderr


async def test_an_openai_key_the_server_refuses_names_openai_api_key(tmp_path: Path) -> None:
    async with FakeOpenAIServer(key=OPENAI_KEY) as srv:
        env = {
            "TERTULIA_DB": str(tmp_path / "t.db"),
            "TERTULIA_BACKEND": "OpenAI",  # choices are case-insensitive
            "OPENAI_API_KEY": WRONG_KEY,
            "OPENAI_BASE_URL": srv.base_url,
        }
        done = await run(env)
    assert_refused(done, "OPENAI_API_KEY")
    assert "HTTP 401" in done.stderr and WRONG_KEY not in done.stderr
    assert srv.requests == []  # refused at start-up, not at the first message


async def test_a_model_the_openai_server_says_it_lacks_names_openai_model(
    tmp_path: Path,
) -> None:
    async with FakeOpenAIServer(key=OPENAI_KEY, models=("gpt-4o-mini",)) as srv:
        env = {
            "TERTULIA_DB": str(tmp_path / "t.db"),
            "OPENAI_API_KEY": OPENAI_KEY,
            "OPENAI_BASE_URL": srv.base_url,
            "OPENAI_MODEL": "gpt-9",
        }
        done = await run(env)
    assert_refused(done, "OPENAI_MODEL")
    assert "The model 'gpt-9' does not exist" in done.stderr


async def test_accepted_keys_start_and_answer(tmp_path: Path) -> None:
    async with FakeOpenAIServer("hi", key=OPENAI_KEY) as srv:
        env = {
            "TERTULIA_DB": str(tmp_path / "t.db"),
            "OPENAI_API_KEY": OPENAI_KEY,
            "OPENAI_BASE_URL": srv.base_url,
            "TERTULIA_LOG_LEVEL": "warning",
        }
        done = await run(env, stdin="hello\n")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert "hi" in done.stdout and srv.lookups == ["gpt-4o-mini"]


# -- servers that cannot answer now: start anyway, and say so ---------------------------


@pytest.mark.parametrize(
    "env",
    [
        {"GEMINI_API_KEY": GEMINI_KEY, "GEMINI_BASE_URL": "http://127.0.0.1:{port}"},
        {"OPENAI_API_KEY": OPENAI_KEY, "OPENAI_BASE_URL": "http://127.0.0.1:{port}/v1"},
    ],
    ids=["gemini", "openai"],
)
def test_an_unreachable_server_is_a_warning_and_start_up_goes_on(
    env: dict[str, str], tmp_path: Path
) -> None:
    port = closed_port()
    env = {k: v.format(port=port) for k, v in env.items()}
    done = tertulia({"TERTULIA_DB": str(tmp_path / "t.db"), **env}, stdin="/help\n")
    assert done.returncode == 0, done.stderr
    assert "WARNING" in done.stderr and "starting anyway" in done.stderr
    assert "/persona" in done.stdout  # the chat ran


# -- the checks themselves, in process ----------------------------------------------


async def test_gemini_server_errors_at_the_check_only_warn(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with FakeGeminiServer(key=GEMINI_KEY) as srv:
        srv.lookup = Failure(503, "The model is overloaded.")
        model = GeminiModel(GEMINI_KEY, base_url=srv.base_url)
        with caplog.at_level(logging.WARNING):
            await model.open()
        await model.close()
    assert "503 UNAVAILABLE" in caplog.text and "starting anyway" in caplog.text
    assert len(srv.lookups) == 1  # one try: start-up does not wait on retries


async def test_a_gemini_403_is_the_key() -> None:
    async with FakeGeminiServer() as srv:
        srv.lookup = Failure(403, "Generative Language API has not been used in project 42")
        model = GeminiModel(GEMINI_KEY, base_url=srv.base_url)
        with pytest.raises(OptionRefused, match="403 PERMISSION_DENIED") as refused:
            await model.open()
        await model.close()
    assert refused.value.option == "api_key"


async def test_a_gateway_404_without_googles_body_only_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A proxy that forwards only POST …:streamGenerateContent: its 404 says nothing of the model.
    runner = web.AppRunner(web.Application())
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    await web.SockSite(runner, sock).start()
    try:
        model = GeminiModel(GEMINI_KEY, base_url=f"http://127.0.0.1:{port}")
        with caplog.at_level(logging.WARNING):
            await model.open()
        await model.close()
    finally:
        await runner.cleanup()
    assert "starting anyway" in caplog.text


@pytest.mark.parametrize(
    ("server", "status"),
    [
        ({"retrieve": False}, None),  # vLLM, llama-server: no GET /v1/models/{id}
        ({}, 500),
        ({}, 429),
    ],
    ids=["no-route", "500", "429"],
)
async def test_openai_check_failures_that_may_pass_only_warn(
    server: dict[str, bool], status: int | None, caplog: pytest.LogCaptureFixture
) -> None:
    async with FakeOpenAIServer(**server) as srv:  # type: ignore[arg-type]
        srv.lookup_status = status
        model = OpenAIModel(None, "llama3.2", base_url=srv.base_url, retries=4)
        with caplog.at_level(logging.WARNING):
            await model.open()
        assert [c async for c in model.stream("", [])] == ["hello"]
        await model.close()
    assert "starting anyway" in caplog.text
    assert len(srv.lookups) == (0 if status is None else 1)  # never retried at start-up


async def test_a_403_from_an_openai_server_is_the_key() -> None:
    async with FakeOpenAIServer() as srv:
        srv.lookup_status = 403
        model = OpenAIModel("k", base_url=srv.base_url)
        with pytest.raises(OptionRefused, match="HTTP 403") as refused:
            await model.open()
        await model.close()
    assert refused.value.option == "api_key"


# -- TERTULIA_FALLBACK and the embedders' keys ----------------------------------------


@pytest.mark.parametrize(
    ("fallback", "env", "line"),
    [
        ("claude", {}, "TERTULIA_FALLBACK: Value error, no backend called 'claude'"),
        ("local,LOCAL", {}, "TERTULIA_FALLBACK: Value error, a backend is named twice"),
        ("Gemini", {}, "TERTULIA_FALLBACK: gemini: GEMINI_API_KEY is not set"),
        ("openai", {}, "TERTULIA_FALLBACK: openai: it is the chosen backend"),
        (
            "local",
            {"TERTULIA_LOCAL_MODEL": "/nonexistent/model.gguf"},
            "TERTULIA_FALLBACK: local: no GGUF file at /nonexistent/model.gguf",
        ),
    ],
    ids=["unknown", "twice", "no-key", "primary", "no-file"],
)
def test_a_fallback_that_cannot_work_is_one_line_naming_tertulia_fallback(
    fallback: str, env: dict[str, str], line: str, tmp_path: Path
) -> None:
    done = tertulia(
        {
            "TERTULIA_DB": str(tmp_path / "t.db"),
            "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
            "TERTULIA_FALLBACK": fallback,
            **env,
        }
    )
    assert_refused(done, "TERTULIA_FALLBACK")
    assert done.stderr.startswith(f"tertulia: {line}"), done.stderr


async def test_a_fallbacks_key_the_server_refuses_names_its_variable(tmp_path: Path) -> None:
    async with FakeGeminiServer(key=GEMINI_KEY) as gemini, FakeOpenAIServer(key=OPENAI_KEY) as oa:
        env = {
            "TERTULIA_DB": str(tmp_path / "t.db"),
            "GEMINI_API_KEY": GEMINI_KEY,
            "GEMINI_BASE_URL": gemini.base_url,
            "OPENAI_API_KEY": WRONG_KEY,
            "OPENAI_BASE_URL": oa.base_url,
            "TERTULIA_FALLBACK": "openai",
            "TERTULIA_EMBEDDER": "none",
        }
        done = await run(env)
    assert_refused(done, "OPENAI_API_KEY")
    assert "HTTP 401" in done.stderr and WRONG_KEY not in done.stderr


async def test_gemini_down_the_fallback_answers_and_says_so(tmp_path: Path) -> None:
    async with (
        FakeGeminiServer(Failure(503, "The model is overloaded."), key=GEMINI_KEY) as gemini,
        FakeOpenAIServer("an answer from the fallback") as oa,
    ):
        env = {
            "TERTULIA_DB": str(tmp_path / "t.db"),
            "GEMINI_API_KEY": GEMINI_KEY,
            "GEMINI_BASE_URL": gemini.base_url,
            "OPENAI_BASE_URL": oa.base_url,
            "TERTULIA_FALLBACK": "OpenAI",
            "TERTULIA_EMBEDDER": "none",
            "TERTULIA_MODEL_RETRIES": "0",
            "TERTULIA_LOG_LEVEL": "error",
        }
        done = await run(env, stdin="hello\n/model\n")
    assert done.returncode == 0, done.stderr
    assert "an answer from the fallback" in done.stdout
    assert "(answered by openai: no answer from gemini right now)" in done.stdout
    assert "If it is down: openai (gpt-4o-mini)" in done.stdout
    assert len(gemini.requests) == 1 and len(oa.requests) == 1


@pytest.mark.parametrize("embedder", ["gemini", "openai"])
async def test_an_embedder_key_the_server_refuses_names_its_variable(
    embedder: str, tmp_path: Path
) -> None:
    async with FakeGeminiServer(key=GEMINI_KEY) as gemini, FakeOpenAIServer(key=OPENAI_KEY) as oa:
        # The chat backend's key is good: only the embedder's is refused.
        wrong = {"GEMINI_API_KEY": WRONG_KEY} if embedder == "gemini" else {}
        env = {
            "TERTULIA_DB": str(tmp_path / "t.db"),
            "TERTULIA_BACKEND": "openai" if embedder == "gemini" else "gemini",
            "GEMINI_API_KEY": GEMINI_KEY,
            "GEMINI_BASE_URL": gemini.base_url,
            "OPENAI_API_KEY": WRONG_KEY if embedder == "openai" else OPENAI_KEY,
            "OPENAI_BASE_URL": oa.base_url,
            "OPENAI_EMBEDDING_MODEL": "text-embedding-3-small",
            "TERTULIA_EMBEDDER": embedder,
            **wrong,
        }
        done = await run(env)
    variable = "GEMINI_API_KEY" if embedder == "gemini" else "OPENAI_API_KEY"
    assert_refused(done, variable)
    assert WRONG_KEY not in done.stderr
    assert gemini.embed_requests == [] and oa.embedding_requests == []


def test_a_fallback_model_file_that_cannot_load_names_tertulia_fallback(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a gguf file at all")
    env = {
        "TERTULIA_DB": str(tmp_path / "t.db"),
        "OPENAI_BASE_URL": f"http://127.0.0.1:{closed_port()}/v1",  # down: only a warning
        "TERTULIA_FALLBACK": "local",
        "TERTULIA_LOCAL_MODEL": str(broken),
        "TERTULIA_LOG_LEVEL": "error",
    }
    done = tertulia(env)
    assert_refused(done, "TERTULIA_FALLBACK")
    assert done.stderr.startswith(f"tertulia: TERTULIA_FALLBACK: local: cannot load {broken}")
