"""Through the engine and SQLite, each turn's prompt to the real local model extends the tokens
it evaluated the turn before, so llama evaluates only the new ones, even past the window."""

from __future__ import annotations

from bot.models.local import LocalModel, Sampling
from tests.conftest import MakeEngine, collect, command, msg


async def test_prompts_extend_the_last_evaluated_tokens_turn_after_turn(
    make_engine: MakeEngine,
) -> None:
    m = LocalModel(context=1024, threads=1, max_output_tokens=12, sampling=Sampling(0.0))
    try:
        # A 240-token budget: the conversation runs past it after a few turns.
        engine = make_engine(m, context_tokens=240)
        kept = broken = 0
        before: list[int] = []
        for i in range(16):
            text = f"Tell me one fact about the number {i}, a short one, about history or maths."
            answer = await collect(engine, msg(text, "ana"))
            assert answer.strip()
            llm = m._llm
            assert llm is not None
            now = llm._input_ids.tolist()
            if before:
                # The reply's last token is sampled but never evaluated: allow a seam.
                if llm.longest_token_prefix(before, now) >= len(before) - 4:
                    kept += 1
                else:
                    broken += 1
            before = now
        history = await engine.store.window(1, 1)
        assert sum(t.tokens for t in history) > 240 + 120, history  # well past the window
        # Old turns left in blocks: the start moved a few times, not at every turn.
        # (dropping one turn at a time instead broke it at 10 of these 15 turns)
        assert broken <= 4 and kept >= 11, (kept, broken)
    finally:
        await m.close()


async def test_a_returning_persons_memory_leaves_the_window_evaluated(
    make_engine: MakeEngine,
) -> None:
    """Recall differs for every message; it comes after the window, so the persona and the
    window are not evaluated again (ahead of them: 8-9 s a message at 1,000 tokens, 2 threads)."""
    m = LocalModel(context=2048, threads=1, max_output_tokens=8, sampling=Sampling(0.0))
    try:
        engine = make_engine(m, context_tokens=1500)
        pets = ("a parrot called Kiwi", "a tortoise called Flash", "a cat called Mochi")
        for pet in pets:
            await collect(engine, msg(f"My neighbour has {pet}, it lives in the garden.", "eva"))
        await collect(engine, command("/new", user="eva"))
        for i in range(4):  # a window worth keeping: the persona and these turns
            text = f"Here is a long note number {i} about the weather in the valley. " * 4
            await collect(engine, msg(text, "eva"))
        llm = m._llm
        assert llm is not None
        reused: list[tuple[int, int]] = []
        for word in ("parrot", "tortoise", "cat"):
            before = llm._input_ids.tolist()
            await collect(engine, msg(f"What was the name of the {word}?", "eva"))
            now = llm._input_ids.tolist()
            reused.append((llm.longest_token_prefix(before, now), len(now)))
        assert "Flash" in llm.detokenize(now).decode(errors="ignore")  # recall reached it
        # Most of each prompt was already evaluated: only the memory, the newest message
        # and the exchange before it are new.
        assert all(same > total * 0.6 for same, total in reused), reused
    finally:
        await m.close()
