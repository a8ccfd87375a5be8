"""`tertulia dataset export` as a real subprocess: files and a short summary, or one line and 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from storage.sqlite import SqliteStore
from tests.dataset.conftest import Person, lines
from tests.processes import NO_SETTINGS, ROOT, clean_env


def tertulia(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "adapters.cli", "--env-file", NO_SETTINGS, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**clean_env(), "TERTULIA_DB": str(db)},
    )


async def people(store: SqliteStore, n: int) -> None:
    for i in range(n):
        person = Person(store, f"u{i}", chat=f"c{i}")
        await person.say(
            f"Question {i}: how do plants make food?", f"By photosynthesis, answer {i}."
        )
        await person.consent()


async def test_export_writes_the_files_and_prints_a_short_summary(
    store: SqliteStore, db_path: Path, tmp_path: Path
) -> None:
    await people(store, 3)
    out = tmp_path / "out"
    done = tertulia(db_path, "dataset", "export", "--format", "vertex-sft", "--out", str(out),
                    "--validation", "0", "--since", "2000-01-01", "--language", "en")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(
        "vertex-sft: 3 training and 0 validation examples from 3 conversations"
    )
    assert "warning: training examples: 3; Vertex AI advises at least 100" in done.stdout
    assert len(lines(out / "train.jsonl")) == 3
    assert {p.name for p in out.iterdir()} >= {"summary.json", "summary.md", "tuning.toml"}


async def test_an_export_the_target_would_refuse_exits_1_with_the_reason(
    store: SqliteStore, db_path: Path, tmp_path: Path
) -> None:
    await people(store, 2)
    done = tertulia(
        db_path, "dataset", "export", "--format", "openai-chat", "--out", str(tmp_path / "o")
    )
    assert done.returncode == 1, done.stderr
    assert "error: OpenAI refuses fewer than 10 training examples" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "csv"], "format must be one of vertex-sft, vertex-preference"),
        (["--since", "yesterday"], "--since must be a date as YYYY-MM-DD"),
        (["--min-rating", "high"], "--min-rating must be a number"),
        (["--language", "fr"], "language must be one of es, en"),
        (["--persona", "pirate"], "persona must be one of assistant, tutor, translator, coder"),
        (["--db-missing"], "no such database"),
    ],
)
async def test_bad_input_is_one_line_and_exit_2(
    args: list[str], message: str, store: SqliteStore, db_path: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    options = {"--format": "vertex-sft", "--out": str(out)}
    db = db_path
    if args == ["--db-missing"]:
        db, args = tmp_path / "nowhere.db", []
    options.update(zip(args[::2], args[1::2], strict=True))
    done = tertulia(db, "dataset", "export", *[x for kv in options.items() for x in kv])
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and message in done.stderr
    assert not out.exists()
