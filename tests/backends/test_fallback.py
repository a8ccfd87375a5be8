"""FallbackModel (TERTULIA_FALLBACK): real google-genai and openai clients against the fakes.

A primary that is down (503 after its retries, or hanging past its share of the
deadline) hands over to the next backend; a blocked prompt, or a failure after the
first words, does not. One test falls back on the real local model.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack
from typing import Any

import pytest

from bot.engine import Engine
from bot.models.fallback import FallbackModel
from bot.models.gemini import GeminiModel
from bot.models.local import LocalModel, Sampling
from bot.models.openai_compat import OpenAIModel
from bot.ports import ChatModel, ModelBlocked, ModelUnavailable, Substitute
from bot.types import Done, Image, Outcome, Turn
from config.settings import Settings
from storage.sqlite import SqliteStore
from tests.conftest import MakeEngine, command, events, msg, readable
from tests.fakes.gemini_server import BlockedPrompt, Failure, FakeGeminiServer, Hang, Reply
from tests.fakes.openai_server import FakeOpenAIServer

KEY = "test-key-not-a-secret"
DOWN = Failure(503, "The model is overloaded.", retry_delay="0.01s")
ASK = [Turn("user", "hi")]


@pytest.fixture
async def backends() -> AsyncIterator[tuple[FakeGeminiServer, FakeOpenAIServer, FakeOpenAIServer]]:
    """A fake Gemini and two fake OpenAI-compatible servers, all answering by default."""
    async with (
        FakeGeminiServer(Reply(("from ", "gemini"))) as gemini,
        FakeOpenAIServer("from openai") as first,
        FakeOpenAIServer("from the second server") as second,
    ):
        yield gemini, first, second


@pytest.fixture
async def closing() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as stack:
        yield stack


def gemini(srv: FakeGeminiServer, **kw: Any) -> GeminiModel:
    options: dict[str, Any] = {"retries": 1, "backoff": 0.01, "timeout": 2.0}
    return GeminiModel(KEY, base_url=srv.base_url, **{**options, **kw})


def openai(srv: FakeOpenAIServer, model: str = "llama3.2", **kw: Any) -> OpenAIModel:
    options: dict[str, Any] = {"retries": 1, "backoff": 0.01, "timeout": 2.0}
    return OpenAIModel("k", model, base_url=srv.base_url, **{**options, **kw})


async def chain(
    closing: AsyncExitStack, *members: ChatModel, deadline: float = 30.0
) -> FallbackModel:
    model = FallbackModel(members, deadline=deadline)
    await model.open()
    closing.push_async_callback(model.close)
    return model


async def chunks(model: ChatModel, turns: Sequence[Turn] = ASK) -> list[str]:
    return [c async for c in model.stream("be brief", turns)]


# -- who answers ---------------------------------------------------------------------


async def test_a_primary_that_answers_is_the_answer_with_no_substitute(
    backends: tuple[FakeGeminiServer, FakeOpenAIServer, FakeOpenAIServer],
    closing: AsyncExitStack,
) -> None:
    g, o, _ = backends
    model = await chain(closing, gemini(g), openai(o))
    got = await chunks(model)
    assert got == ["from ", "gemini"] and not any(isinstance(c, Substitute) for c in got)
    assert o.requests == []
    assert (model.backend, model.model) == ("gemini", "gemini-flash-latest")
    assert model.fallbacks == ("openai (llama3.2)",)


async def test_gemini_503_after_its_retries_falls_back_to_openai(
    backends: tuple[FakeGeminiServer, FakeOpenAIServer, FakeOpenAIServer],
    closing: AsyncExitStack,
) -> None:
    g, o, _ = backends
    g.script(DOWN, DOWN)  # the first try and its one retry
    model = await chain(closing, gemini(g), openai(o))
    got = await chunks(model)
    assert isinstance(got[0], Substitute) and got[0] == ""
    assert (got[0].backend, got[0].failed) == ("openai", ("gemini",))
    assert "".join(got) == "from openai"
    assert len(g.requests) == 2 and len(o.requests) == 1


async def test_a_hanging_primary_is_cut_at_its_share_of_the_deadline(
    backends: tuple[FakeGeminiServer, FakeOpenAIServer, FakeOpenAIServer],
    closing: AsyncExitStack,
) -> None:
    # Gemini's own deadline is 30 s: only the chain's share (2 s of 4 s) lets openai answer
    # before the chain's deadline. Had the primary kept the whole 4 s, the fallback's turn
    # would start with no time left and the reply would be "unavailable".
    g, o, _ = backends
    g.script(Hang(30.0))
    model = await chain(closing, gemini(g, deadline=30.0, timeout=30.0), openai(o), deadline=4.0)
    got = await chunks(model)
    assert "".join(got) == "from openai" and isinstance(got[0], Substitute)
    assert len(g.requests) == 1 and len(o.requests) == 1


async def test_an_openai_server_that_hangs_then_503s_hands_over_to_a_second_server(
    backends: tuple[FakeGeminiServer, FakeOpenAIServer, FakeOpenAIServer],
    closing: AsyncExitStack,
) -> None:
    _, o, second = backends
    o.hangs = [30.0]  # the first attempt never answers within the model's 0.5 s timeout
    o.fail_next(503)  # the retry is refused
    model = await chain(closing, openai(o, timeout=0.5), openai(second, "qwen2.5"))
    got = await chunks(model)
    assert "".join(got) == "from the second server"
    assert isinstance(got[0], Substitute) and got[0].failed == ("openai",)
    assert len(o.requests) == 2 and second.requests[0]["model"] == "qwen2.5"


async def test_three_backends_the_third_answers_naming_both_that_failed(
    backends: tuple[FakeGeminiServer, FakeOpenAIServer, FakeOpenAIServer],
    closing: AsyncExitStack,
) -> None:
    g, o, second = backends
    g.script(DOWN, DOWN)
    o.fail_next(500, times=2)
    model = await chain(closing, gemini(g), openai(o), openai(second))
    got = await chunks(model)
    assert isinstance(got[0], Substitute) and got[0].failed == ("gemini", "openai")
    assert "".join(got) == "from the second server"


async def test_every_backend_down_is_unavailable_naming_them(
    backends: tuple[FakeGeminiServer, FakeOpenAIServer, FakeOpenAIServer],
    closing: AsyncExitStack,
) -> None:
    g, o, _ = backends
    g.script(DOWN, DOWN)
    o.fail_next(503, times=2)
    model = await chain(closing, gemini(g), openai(o))
    with pytest.raises(ModelUnavailable, match=r"every backend is down \(gemini, openai\)"):
        await chunks(model)


# -- what never falls back -------------------------------------------------------------


async def test_a_blocked_prompt_is_not_asked_of_another_backend(
    backends: tuple[FakeGeminiServer, FakeOpenAIServer, FakeOpenAIServer],
    closing: AsyncExitStack,
) -> None:
    g, o, _ = backends
    g.script(BlockedPrompt("SAFETY"))
    model = await chain(closing, gemini(g), openai(o))
    with pytest.raises(ModelBlocked):
        await chunks(model)
    assert o.requests == []


async def test_words_already_streamed_are_never_followed_by_another_backends(
    backends: tuple[FakeGeminiServer, FakeOpenAIServer, FakeOpenAIServer],
    closing: AsyncExitStack,
) -> None:
    g, o, _ = backends
    g.script(Reply(("half an ", "answer"), stall=30.0))  # then silence past the 1.5 s gap
    model = await chain(closing, gemini(g, timeout=1.5), openai(o))
    got: list[str] = []
    with pytest.raises(ModelUnavailable):
        async for piece in model.stream("", ASK):
            got.append(piece)
    assert "".join(got) == "half an answer"
    assert o.requests == []


async def test_a_fallback_that_reads_no_images_gets_the_text_only(
    backends: tuple[FakeGeminiServer, FakeOpenAIServer, FakeOpenAIServer],
    closing: AsyncExitStack,
) -> None:
    g, o, _ = backends
    g.script(DOWN, DOWN)
    model = await chain(closing, gemini(g), openai(o, "llama3.2"))
    assert model.accepts_images  # the primary's: Gemini reads them
    turns = [Turn("user", "what is this?", (Image(b"\xff\xd8jpeg", "image/jpeg"),))]
    assert "".join(await chunks(model, turns)) == "from openai"
    assert "inlineData" in str(g.requests[0].body)  # Gemini was sent the image
    assert o.requests[0]["messages"][-1] == {"role": "user", "content": "what is this?"}


# -- through the engine: one localised line, nothing of it stored ---------------------


@pytest.mark.parametrize(
    ("lang", "line"),
    [
        ("en", "(answered by openai: no answer from gemini right now)"),
        ("es", "(respondió openai: ahora no hay respuesta de gemini)"),
    ],
)
async def test_the_reply_says_who_answered_in_one_line(
    backends: tuple[FakeGeminiServer, FakeOpenAIServer, FakeOpenAIServer],
    closing: AsyncExitStack,
    make_engine: MakeEngine,
    store: SqliteStore,
    lang: str,
    line: str,
) -> None:
    g, o, _ = backends
    g.script(DOWN, DOWN)
    engine: Engine = make_engine(await chain(closing, gemini(g), openai(o)), default_lang=lang)
    said = await events(engine, msg("hi"))
    assert readable(said) == f"from openai\n\n{line}"
    done = said[-1]
    assert isinstance(done, Done) and done.outcome is Outcome.OK and done.ref is not None
    ref = done.ref
    stored = await store.window(ref.user_id, ref.conversation_id)
    assert [t.text for t in stored][:2] == ["from openai", "hi"]  # the line is not context
    # The next message goes to the primary again, and says nothing extra.
    assert readable(await events(engine, msg("again"))) == "from gemini"


async def test_model_command_shows_the_chain(
    backends: tuple[FakeGeminiServer, FakeOpenAIServer, FakeOpenAIServer],
    closing: AsyncExitStack,
    make_engine: MakeEngine,
) -> None:
    g, o, second = backends
    model = await chain(closing, gemini(g), openai(o), openai(second, "qwen2.5"))
    engine = make_engine(model)
    shown = readable(await events(engine, command("/model")))
    assert "Backend: gemini\nModel: gemini-flash-latest" in shown
    assert shown.endswith("If it is down: openai (llama3.2) → openai (qwen2.5)")
    es = readable(await events(make_engine(model, default_lang="es"), command("/model", user="u2")))
    assert es.endswith("Si no responde: openai (llama3.2) → openai (qwen2.5)")


# -- the setting ---------------------------------------------------------------------------


def test_the_setting_is_a_case_insensitive_list_of_backends() -> None:
    settings = Settings(TERTULIA_FALLBACK=" OpenAI , local ")  # type: ignore[call-arg]
    assert settings.fallback_backends() == ("openai", "local")
    assert Settings().fallback_backends() == ()  # type: ignore[call-arg]


# -- falling back on the real local model ------------------------------------------------


async def test_openai_down_falls_back_to_the_real_local_model(
    backends: tuple[FakeGeminiServer, FakeOpenAIServer, FakeOpenAIServer],
    closing: AsyncExitStack,
) -> None:
    _, o, _ = backends
    o.fail_next(503, times=2)
    local = LocalModel(
        context=512, threads=1, max_output_tokens=12, sampling=Sampling(temperature=0.0)
    )
    model = await chain(closing, openai(o), local, deadline=120.0)
    got = await chunks(model, [Turn("user", "What is the capital of France?")])
    assert isinstance(got[0], Substitute) and got[0].backend == "local"
    assert got[0].failed == ("openai",)
    assert "".join(got).strip()  # SmolLM2 really wrote something
    assert len(o.requests) == 2
