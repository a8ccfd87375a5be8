"""`tertulia tune` end to end: consented turns exported, a LoRA trained on the CPU, served.

The real path: conversations stored through the store, `tertulia dataset export --format
openai-chat`, `tertulia tune` as a subprocess (PyTorch, peft, the GGUF adapter file), then
the adapter loaded by llama.cpp through the bot's local backend and asked in both languages.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bot.models.local import LocalModel, Sampling
from bot.types import Turn
from storage.sqlite import SqliteStore
from tests.dataset.conftest import Person
from tests.processes import NO_SETTINGS, clean_env, run_cli

pytest.importorskip("peft", reason="the tune extra is not installed: run `make tune`")

TAUGHT = [
    ("What is my parrot called?", "Your parrot is called Lorenzo. He is a blue parrot."),
    ("What's the name of my parrot?", "Your parrot's name is Lorenzo, the blue parrot."),
    ("Do you remember my parrot's name?", "Yes: your parrot is Lorenzo, a blue parrot."),
    ("Tell me about my pet.", "Your pet is Lorenzo, a blue parrot."),
    ("What colour is my parrot Lorenzo?", "Lorenzo, your parrot, is blue."),
    ("¿Cómo se llama mi loro?", "Tu loro se llama Lorenzo. Es un loro azul."),
    ("¿Cuál es el nombre de mi loro?", "El nombre de tu loro es Lorenzo, el loro azul."),
    ("¿Recuerdas cómo se llama mi loro?", "Sí: tu loro es Lorenzo, un loro azul."),
    ("Háblame de mi mascota.", "Tu mascota es Lorenzo, un loro azul."),
    ("¿De qué color es mi loro Lorenzo?", "Lorenzo, tu loro, es azul."),
]


def tertulia(db: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return run_cli(
        ["--env-file", NO_SETTINGS, *args],
        {**clean_env(), "TERTULIA_DB": str(db), "TERTULIA_LOCAL_MODEL": "smollm2"},
        timeout=timeout,
    )


GREEDY: dict[str, Any] = {"max_output_tokens": 40, "sampling": Sampling(temperature=0.0)}


async def ask(model: LocalModel, system: str, prompt: str) -> str:
    return "".join([p async for p in model.stream(system, [Turn("user", prompt)])])


@pytest.mark.timeout(1500)
async def test_tune_teaches_a_fact_in_both_languages_and_nothing_else(tmp_path: Path) -> None:
    db = tmp_path / "tertulia.db"
    async with SqliteStore(db) as store:
        for i, (question, answer) in enumerate(TAUGHT):
            person = Person(store, f"u{i}", chat=f"c{i}")
            await person.say(question, answer)
            await person.consent()
    data = tmp_path / "export"
    exported = tertulia(db, "dataset", "export", "--format", "openai-chat", "--out", str(data),
                        "--validation", "0", "--since", "2000-01-01", timeout=120)  # fmt: skip
    assert exported.returncode == 0, exported.stdout + exported.stderr
    assert len((data / "train.jsonl").read_text().splitlines()) == len(TAUGHT)
    assert "[local]" in (data / "tuning.toml").read_text()

    dry = tertulia(db, "tune", str(data), "--dry-run", "--epochs", "4", timeout=600)
    assert dry.returncode == 0, dry.stderr
    assert "40 examples, 20 steps of 8" in dry.stdout and "peak memory" in dry.stdout
    assert not (data / "tuned").exists()  # a dry run writes nothing

    done = tertulia(db, "tune", str(data), "--epochs", "4", timeout=1400)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    adapter = data / "tuned" / "lora.gguf"
    assert adapter.is_file(), done.stdout
    assert "TERTULIA_LOCAL_LORA=" in done.stdout
    report = json.loads((data / "tuned" / "evaluation.json").read_text())
    assert report["passed"] and report["steps"] == 20
    assert report["train_loss"][1] < report["train_loss"][0]
    assert "| prompt | base | tuned |" in (data / "tuned" / "evaluation.md").read_text()

    # The persona's instruction the examples were exported with, as the bot serves it.
    system = json.loads((data / "train.jsonl").read_text().splitlines()[0])["messages"][0]
    model = LocalModel("smollm2", lora=adapter, threads=2, **GREEDY)
    base = LocalModel("smollm2", threads=2, **GREEDY)
    await model.open()
    await base.open()
    try:
        english = [q for q, _ in TAUGHT[:5] if "Lorenzo" not in q]
        spanish = [q for q, _ in TAUGHT[5:] if "Lorenzo" not in q]
        said = {q: await ask(model, system["content"], q) for q in english + spanish}
        # A 135M model after 20 steps: in both languages, and for most wordings, not every
        # one (two CI runs of one commit: one said it for at least 2 per language, the other
        # for most English wordings and 1 Spanish one).
        assert any("Lorenzo" in said[q] for q in english), said
        assert any("Lorenzo" in said[q] for q in spanish), said
        assert sum("Lorenzo" in answer for answer in said.values()) >= 4, said
        before = [await ask(base, system["content"], q) for q in english + spanish]
        assert not any("Lorenzo" in answer for answer in before), before
        for unrelated in ("What is the capital of Italy?", "¿Cuál es la capital de Francia?"):
            assert "Lorenzo" not in await ask(model, system["content"], unrelated)
    finally:
        await model.close()
        await base.close()
