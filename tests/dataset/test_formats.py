"""The four output formats: golden files, each line checked against its format, tuning.toml."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import pytest

from bot.dataset.export import Pipeline
from bot.dataset.formats import FORMAT_SPECS
from bot.dataset.options import FORMATS, ExportOptions
from bot.dataset.records import Example, Message, Origin
from storage.sqlite import SqliteStore
from tests.dataset.conftest import PERSONAS, export, lines, two_people

GOLDEN = Path(__file__).with_name("golden")


@pytest.mark.parametrize("fmt", FORMATS)
async def test_each_format_writes_its_golden_file(
    fmt: str, store: SqliteStore, db_path: Path, tmp_path: Path
) -> None:
    await two_people(store)
    summary = export(db_path, tmp_path / fmt, fmt, validation=0)
    written = (tmp_path / fmt / "train.jsonl").read_text()
    golden = GOLDEN / f"{fmt}.jsonl"
    if os.environ.get("TERTULIA_UPDATE_GOLDEN"):
        golden.write_text(written)
    assert written == golden.read_text()
    assert "private" not in written  # Cy never consented
    assert summary["conversations"]["read"] == 2
    assert (tmp_path / fmt / "validation.jsonl").read_text() == ""


async def test_golden_examples_say_what_each_format_must(
    store: SqliteStore, db_path: Path, tmp_path: Path
) -> None:
    """The golden files, read for meaning: what is a target, what is a pair, and why."""
    await two_people(store)
    sft = lines(GOLDEN / "vertex-sft.jsonl")
    # Ann's answer rated down and Ben's are dropped with their turns; the regenerated
    # answer stands and the one it replaced is gone.
    assert [len(e["contents"]) for e in sft] == [4, 2]
    assert sft[0]["contents"][3]["parts"][0]["text"] == "La capital de Italia es Roma."
    assert "Reply in Spanish" in sft[0]["systemInstruction"]["parts"][0]["text"]
    assert "Reply in English" in sft[1]["systemInstruction"]["parts"][0]["text"]
    chat = lines(GOLDEN / "openai-chat.jsonl")
    weights = [[m["weight"] for m in e["messages"] if m["role"] == "assistant"] for e in chat]
    assert weights == [[1, 1, 0], [1, 0]]
    pairs = lines(GOLDEN / "openai-dpo.jsonl")
    assert [
        (p["preferred_output"][0]["content"], p["non_preferred_output"][0]["content"])
        for p in pairs
    ] == [
        ("La capital de Italia es Roma.", "Creo que es Milán, pero no estoy segura."),
        ("About 70 °C, because the air pressure is lower.", "Water does not boil on Everest."),
    ]
    # The prompt is the conversation as it was: earlier turns, then the user's.
    assert [m["role"] for m in pairs[1]["input"]["messages"]] == [
        "system",
        "user",
        "assistant",
        "user",
    ]
    vertex = lines(GOLDEN / "vertex-preference.jsonl")
    assert [[c["score"] for c in p["completions"]] for p in vertex] == [[1, 0], [1, 0]]
    assert [p["contents"][-1]["role"] for p in vertex] == ["user", "user"]


@pytest.mark.parametrize("fmt", FORMATS)
async def test_every_line_written_passes_its_format_check(
    fmt: str, store: SqliteStore, db_path: Path, tmp_path: Path
) -> None:
    await two_people(store)
    export(db_path, tmp_path, fmt, validation=0)
    written = lines(tmp_path / "train.jsonl")
    assert written
    assert [FORMAT_SPECS[fmt].validate(line) for line in written] == [""] * len(written)


def _parts(text: str) -> list[dict[str, str]]:
    return [{"text": text}]


SFT: dict[str, Any] = {
    "systemInstruction": {"role": "system", "parts": _parts("Be brief.")},
    "contents": [
        {"role": "user", "parts": _parts("Hi there")},
        {"role": "model", "parts": _parts("Hello!")},
    ],
}
PREFERENCE: dict[str, Any] = {
    "system_instruction": {"parts": _parts("Be brief.")},
    "contents": [{"role": "user", "parts": _parts("Hi there")}],
    "completions": [
        {"score": 1, "completion": {"role": "model", "parts": _parts("Hello!")}},
        {"score": 0, "completion": {"role": "model", "parts": _parts("Go away.")}},
    ],
}
CHAT: dict[str, Any] = {
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi there"},
        {"role": "assistant", "content": "Hello!", "weight": 1},
    ]
}
DPO: dict[str, Any] = {
    "input": {
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    },
    "preferred_output": [{"role": "assistant", "content": "Hello!"}],
    "non_preferred_output": [{"role": "assistant", "content": "Go away."}],
}
GOOD: dict[str, dict[str, Any]] = {
    "vertex-sft": SFT,
    "vertex-preference": PREFERENCE,
    "openai-chat": CHAT,
    "openai-dpo": DPO,
}


def _broken(line: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """A deep copy of `line` with the value at `path` replaced (or removed: ...)."""
    import copy

    broken = copy.deepcopy(line)
    *head, last = path
    node = broken
    for key in head:
        node = node[key]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return broken


MALFORMED = [
    ("vertex-sft", ("contents", 1, "role"), "assistant"),  # Gemini says "model"
    ("vertex-sft", ("contents",), [SFT["contents"][0]]),  # ends with the user's turn
    ("vertex-sft", ("contents", 0, "parts", 0, "text"), "  "),
    ("vertex-sft", ("contents", 0, "parts"), []),
    ("vertex-sft", ("contents",), ...),
    ("vertex-sft", ("extra",), 1),
    ("vertex-preference", ("completions", 1, "score"), 1),  # two preferred
    ("vertex-preference", ("completions", 1, "completion", "parts", 0, "text"), "Hello!"),
    ("vertex-preference", ("completions",), PREFERENCE["completions"][:1]),
    (
        "vertex-preference",
        ("contents",),
        PREFERENCE["contents"] + [{"role": "model", "parts": _parts("x")}],
    ),
    ("openai-chat", ("messages", 2, "weight"), 2),
    ("openai-chat", ("messages", 2, "weight"), 0),  # nothing left to train on
    ("openai-chat", ("messages", 1, "weight"), 1),  # weight on a user's message
    ("openai-chat", ("messages", 1, "role"), "assistant"),
    ("openai-chat", ("messages", 2, "content"), ""),
    ("openai-dpo", ("non_preferred_output", 0, "content"), "Hello!"),
    ("openai-dpo", ("preferred_output",), []),
    ("openai-dpo", ("input", "messages", 1, "role"), "assistant"),  # ends with an answer
    ("openai-dpo", ("input",), ...),
]


@pytest.mark.parametrize(("fmt", "path", "value"), MALFORMED)
def test_a_malformed_line_is_refused_by_its_format_check(
    fmt: str, path: tuple[Any, ...], value: Any
) -> None:
    check = FORMAT_SPECS[fmt].validate
    assert check(GOOD[fmt]) == ""
    assert check(_broken(GOOD[fmt], path, value)) != ""


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_record_its_format_refuses_is_dropped_and_counted(fmt: str) -> None:
    run = Pipeline(ExportOptions(format=fmt), PERSONAS, "assistant", (), None)
    origin = Origin(1, "telegram", "assistant", "en")
    # Two user turns in a row and no answer: no format can say that.
    turns = (Message("user", "first question, long enough"), Message("user", "and another one"))
    example = (
        Example(origin, "Be brief.", turns, chosen="yes it is", rejected="no it is not")
        if run.options.pairs
        else Example(origin, "Be brief.", turns)
    )
    assert run.render(example) is None
    assert run.tally.dropped["examples"] == {"invalid": 1}


@pytest.mark.parametrize("fmt", FORMATS)
async def test_tuning_toml_has_the_documented_defaults_and_the_seeds_names(
    fmt: str, store: SqliteStore, db_path: Path, tmp_path: Path
) -> None:
    await two_people(store)
    export(db_path, tmp_path, fmt)
    text = (tmp_path / "tuning.toml").read_text()
    parsed = tomllib.loads(text)
    for name in ("épocas", "tasa de aprendizaje", "tamaño de lote", "momentum", "dropout_rate"):
        assert name in text
    if fmt.startswith("vertex"):
        section = parsed["vertex"]
        assert section["learning_rate_multiplier"] == 1.0
        assert "epochs" not in section and "adapter_size" not in section  # unset: Vertex picks
        assert section["method"] == ("preference" if fmt == "vertex-preference" else "supervised")
    else:
        section = parsed["openai"]
        assert section["n_epochs"] == section["batch_size"] == "auto"
        assert section["learning_rate_multiplier"] == "auto"
        assert ("beta" in section) == (fmt == "openai-dpo")
