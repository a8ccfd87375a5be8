"""The split (seeded, by conversation, byte for byte) and each format's documented limits."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from bot.dataset.export import export as run_export
from bot.dataset.limits import OPENAI_SFT, VERTEX_PREFERENCE, VERTEX_SFT, Limits
from bot.dataset.options import DatasetError, ExportOptions
from bot.dataset.output import FileSink
from storage.sqlite import SqliteStore
from storage.sqlite.dataset import DatasetReader
from tests.dataset.conftest import PERSONAS, Person, export, lines

FILES = ("train.jsonl", "validation.jsonl", "summary.json", "summary.md", "tuning.toml")


async def many(store: SqliteStore, n: int, regenerate: bool = False) -> None:
    """`n` consenting people, one conversation each, every one of them different."""
    for i in range(n):
        person = Person(store, f"u{i}", chat=f"c{i}")
        ref = await person.say(
            f"Question number {i}: what is {i} times {i + 3}, and why?",
            f"It is {i * (i + 3)}, because {i} added {i + 3} times is that.",
        )
        if regenerate:
            await person.regenerate(ref, f"{i} × {i + 3} = {i * (i + 3)}, said differently {i}.")
        await person.consent()


def firsts(path: Path) -> set[str]:
    """The first user turn of each openai-chat example: one per conversation."""
    return {e["messages"][1]["content"] for e in lines(path)}


async def test_the_same_seed_writes_the_same_bytes_and_another_seed_another_split(
    store: SqliteStore, db_path: Path, tmp_path: Path
) -> None:
    await many(store, 30)
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        export(db_path, tmp_path / name, "openai-chat", seed=seed, validation=0.3)
    for file in FILES:
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()
    a_val, c_val = (
        firsts(tmp_path / "a" / "validation.jsonl"),
        firsts(tmp_path / "c" / "validation.jsonl"),
    )
    assert a_val and c_val and a_val != c_val
    for out in ("a", "c"):
        train, val = (
            firsts(tmp_path / out / "train.jsonl"),
            firsts(tmp_path / out / "validation.jsonl"),
        )
        assert not train & val and len(train | val) == 30


async def test_a_conversations_pairs_all_go_to_the_same_file(
    store: SqliteStore, db_path: Path, tmp_path: Path
) -> None:
    for i in range(12):
        person = Person(store, f"p{i}", chat=f"c{i}")
        for turn in range(3):
            ref = await person.say(
                f"Conversation {i}, question {turn}: tell me more?",
                f"Answer {turn} of {i}, the first.",
            )
            await person.regenerate(ref, f"Answer {turn} of {i}, the second and better one.")
        await person.consent()
    summary = export(db_path, tmp_path, "vertex-preference", validation=0.4)
    sides: dict[str, str] = {}
    for side in ("train", "validation"):
        for pair in lines(tmp_path / f"{side}.jsonl"):
            conversation = pair["contents"][0]["parts"][0]["text"].split(",")[0]
            assert sides.setdefault(conversation, side) == side
    assert set(sides.values()) == {"train", "validation"}
    assert (
        summary["files"]["train.jsonl"]["examples"]
        + summary["files"]["validation.jsonl"]["examples"]
        == 36
    )


def run(db: Path, out: Path, limits: Limits, fmt: str = "openai-chat", **kw: Any) -> dict[str, Any]:
    """The pipeline on the real file with limits small enough to reach in a test."""
    with DatasetReader(db) as reader, FileSink(out) as sink:
        summary, _ = run_export(
            reader.conversations(),
            ExportOptions(format=fmt, **kw),
            personas=PERSONAS,
            default_persona="assistant",
            platform_ids=reader.platform_ids(),
            sink=sink,
            limits=limits,
        )
    return summary


async def test_an_example_over_the_token_limit_is_dropped_and_counted(
    store: SqliteStore, db_path: Path, tmp_path: Path
) -> None:
    await many(store, 3)
    big = Person(store, "big", chat="big")
    await big.say("Please write me a very long essay now.", "word " * 400)
    await big.consent()
    summary = run(
        db_path, tmp_path, dataclasses.replace(OPENAI_SFT, example_tokens=200, min_train=None)
    )
    assert summary["dropped"]["examples"] == {"too_many_tokens": 1}
    assert summary["examples"] == 3
    assert summary["tokens"]["max"] <= 200


async def test_file_size_and_example_count_limits_drop_examples_with_a_warning(
    store: SqliteStore, db_path: Path, tmp_path: Path
) -> None:
    await many(store, 10)
    summary = run(
        db_path,
        tmp_path / "bytes",
        dataclasses.replace(OPENAI_SFT, file_bytes=1500, min_train=None),
        validation=0,
    )
    written = (tmp_path / "bytes" / "train.jsonl").stat().st_size
    assert 0 < written <= 1500
    assert summary["dropped"]["examples"]["file_size_limit"] == 10 - summary["examples"]
    assert any(
        "train.jsonl reached OpenAI's limit of 1,500 bytes" in w for w in summary["warnings"]
    )
    summary = run(
        db_path,
        tmp_path / "count",
        dataclasses.replace(VERTEX_SFT, max_train=4),
        "vertex-sft",
        validation=0,
    )
    assert summary["dropped"]["examples"] == {"too_many_examples": 6}
    assert len(lines(tmp_path / "count" / "train.jsonl")) == 4


async def test_a_full_validation_file_sends_conversations_to_training_with_a_warning(
    store: SqliteStore, db_path: Path, tmp_path: Path
) -> None:
    await many(store, 20)
    summary = run(
        db_path,
        tmp_path,
        dataclasses.replace(VERTEX_SFT, max_validation=2),
        "vertex-sft",
        validation=0.5,
    )
    assert summary["files"]["validation.jsonl"]["examples"] == 2
    assert summary["files"]["train.jsonl"]["examples"] == 18
    (warning,) = [w for w in summary["warnings"] if "instead" in w]
    assert "at most 2 validation examples" in warning


async def test_too_few_examples_and_too_large_a_validation_share_are_errors(
    store: SqliteStore, db_path: Path, tmp_path: Path
) -> None:
    await many(store, 6, regenerate=True)
    few = export(db_path, tmp_path / "few", "openai-chat", validation=0)
    assert few["errors"] == ["OpenAI refuses fewer than 10 training examples; there are 6"]
    advised = export(db_path, tmp_path / "advised", "vertex-sft", validation=0)
    assert advised["errors"] == []
    assert "training examples: 6; Vertex AI advises at least 100" in advised["warnings"]
    share = run(
        db_path,
        tmp_path / "share",
        dataclasses.replace(VERTEX_PREFERENCE, share_above=1),
        "vertex-preference",
        validation=0.9,
        seed=3,
    )
    validation = share["files"]["validation.jsonl"]["examples"]
    assert validation > 1 and validation > 0.3 * share["files"]["train.jsonl"]["examples"]
    assert any("at most 30% of the training examples" in e for e in share["errors"])


async def test_the_summary_counts_what_is_in_the_files(
    store: SqliteStore, db_path: Path, tmp_path: Path
) -> None:
    await many(store, 12)
    summary = export(db_path, tmp_path, "openai-chat", validation=0.25, seed=1)
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    for name in ("train.jsonl", "validation.jsonl"):
        data = (tmp_path / name).read_bytes()
        assert summary["files"][name]["bytes"] == len(data)
        assert summary["files"][name]["examples"] == data.count(b"\n")
    chars = sum(len(m["content"]) for e in lines(tmp_path / "train.jsonl") for m in e["messages"])
    assert summary["files"]["train.jsonl"]["tokens"] == pytest.approx(
        chars / 4, abs=summary["files"]["train.jsonl"]["examples"]
    )
    md = (tmp_path / "summary.md").read_text()
    assert f"{summary['examples']} examples from 12 of 12 consenting conversations" in md
    assert "characters / 4" in md


async def test_a_failed_export_leaves_no_files_and_a_new_one_replaces_the_old(
    store: SqliteStore, db_path: Path, tmp_path: Path
) -> None:
    await many(store, 3)
    out = tmp_path / "out"
    export(db_path, out, "openai-chat", validation=0)
    before = (out / "train.jsonl").read_bytes()
    with (
        pytest.raises(DatasetError, match="unknown default persona"),
        DatasetReader(db_path) as reader,
        FileSink(out) as sink,
    ):
        options = ExportOptions("openai-chat")
        run_export(
            reader.conversations(),
            options,
            personas=PERSONAS,
            default_persona="nobody",
            platform_ids=(),
            sink=sink,
        )
    assert (out / "train.jsonl").read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    export(db_path, out, "vertex-sft", validation=0)
    assert b"contents" in (out / "train.jsonl").read_bytes()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("format", "jsonl", "format must be one of"),
        ("min_rating", 2, "min_rating must be -1, 0 or 1"),
        ("language", "fr", "language must be one of es, en"),
        ("validation", 1.0, "validation must be a share"),
        ("seed", 1.5, "seed must be a whole number"),
        ("platform", " ", "platform must be a name"),
    ],
)
def test_bad_options_are_refused_with_what_they_take(field: str, value: Any, message: str) -> None:
    options = {"format": "vertex-sft", field: value}
    with pytest.raises(DatasetError, match=message):
        ExportOptions(**options)
