"""The real local model on long input: the newest message's start survives, never an empty answer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.dataset.language import detect
from bot.models import local_prompt
from bot.models.local import LocalModel, Sampling
from bot.types import Turn
from tests.conftest import MakeEngine, collect, msg

SYSTEM = "You are a helpful assistant."
GREEDY = Sampling(temperature=0.0)
THREADS = 1  # two cores shared with the rest of the suite
INSTRUCTION = "Summarise this:"
SENTENCES = (
    "The river town of Valdemora grew around a stone bridge built in the twelfth century.",
    "Merchants crossed it with wool and salt, and the market square filled every Thursday.",
    "In 1830 a flood carried away two arches; the town rebuilt them with iron from Bilbao.",
    "Today the bridge carries bicycles, and the old toll house is a small museum of maps.",
)


def article(chars: int) -> str:
    """A plain article of exactly `chars` characters, different sentence after sentence."""
    parts: list[str] = []
    n = 0
    while sum(map(len, parts)) < chars:
        parts.append(f"{SENTENCES[n % len(SENTENCES)]} (Paragraph {n}.) ")
        n += 1
    return "".join(parts)[:chars]


@pytest.fixture
async def model() -> AsyncIterator[LocalModel]:
    # The shipped default window (TERTULIA_LOCAL_CONTEXT=2048), short replies to stay quick.
    m = LocalModel(context=2048, threads=THREADS, max_output_tokens=24, sampling=GREEDY)
    yield m
    await m.close()


def evaluated(m: LocalModel) -> str:
    """The prompt (and reply) the model really evaluated last, as text."""
    llm = m._llm
    assert llm is not None
    return llm.detokenize(llm._input_ids.tolist()).decode("utf-8", errors="replace")


async def test_long_article_keeps_its_instruction_and_both_ends(model: LocalModel) -> None:
    text = f"{INSTRUCTION} {article(15_000 - len(INSTRUCTION) - 1)}"
    assert len(text) == 15_000
    answer = "".join([c async for c in model.stream(SYSTEM, [Turn("user", text)])])
    prompt = evaluated(model)
    assert INSTRUCTION in prompt  # the start is what used to be lost
    assert text[-60:] in prompt  # and so is the end
    assert "characters cut …]" in prompt  # with a visible mark where the middle was
    assert answer.strip()


async def test_maximum_size_message_gets_a_non_empty_answer(model: LocalModel) -> None:
    # 16,000 characters is the engine's limit (TERTULIA_MAX_INPUT_CHARS' default).
    question = " What is this about?"
    text = article(16_000 - len(question)) + question
    assert len(text) == 16_000
    answer = "".join([c async for c in model.stream(SYSTEM, [Turn("user", text)])])
    assert answer.strip()
    assert question in evaluated(model)


def test_cut_middle_names_what_was_cut_with_the_real_tokenizer() -> None:
    m = LocalModel(context=512, threads=THREADS)
    llm = m._load()  # the tokenizer only: no generation in this test
    try:

        def tokens(text: str) -> list[int]:
            return llm.tokenize(text.encode(), add_bos=False, special=False)

        def detok(ids: list[int]) -> str:
            return llm.detokenize(ids).decode("utf-8", errors="ignore")

        short = "¿Qué tal? Bien."
        assert local_prompt.cut_middle(short, 100, tokens, detok) == (short, 0)
        long = "Empieza aquí. " + article(5_000) + " Termina aquí."
        kept, cut = local_prompt.cut_middle(long, 200, tokens, detok)
        assert len(tokens(kept)) <= 200
        assert kept.startswith("Empieza aquí.") and kept.endswith("Termina aquí.")
        assert f"[… {cut:,} characters cut …]" in kept
        assert 0 < cut < len(long) and len(kept) < len(long)
    finally:
        llm.close()


async def test_a_spanish_question_gets_a_spanish_answer(model: LocalModel) -> None:
    # The system prompt the engine writes for an English-speaking person: the question's
    # language must still win. Tolerant: the stopwords of the answer tell its language.
    system = (
        "You are a helpful assistant.\n"
        "Reply in English unless the user writes in another language; then use theirs."
    )
    answers = []
    for question in ("¿Qué es un perro?", "¿Por qué el cielo es azul?"):
        turns = [Turn("user", question)]
        answers.append("".join([c async for c in model.stream(system, turns)]))
    assert model.language_rule in evaluated(model)  # bot/models/local_models.py
    assert detect(answers) == "es", answers


async def test_the_person_is_told_when_the_middle_was_cut(make_engine: MakeEngine) -> None:
    m = LocalModel(context=2048, threads=THREADS, max_output_tokens=16, sampling=GREEDY)
    try:
        engine = make_engine(m)
        text = f"Resume esto: {article(14_000)}"
        answer = await collect(engine, msg(text, language="es"))
        assert "leyó el principio y el final" in answer
        said, _, note = answer.rpartition("\n\n(")
        assert said.strip() and "caracteres" in note  # an answer, then the note
        short = await collect(engine, msg("¿Y en una frase?", language="es"))
        assert short.strip() and "leyó el principio" not in short
    finally:
        await m.close()
