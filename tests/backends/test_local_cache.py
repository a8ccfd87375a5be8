"""The real local model keeps one saved state per conversation when people take turns."""

from __future__ import annotations

from bot.models.local import ConversationCache, LocalModel, Sampling
from bot.types import Turn

SYSTEM = "You are a helpful assistant."
FILLER = "We talked about bridges, rivers, markets and the old town's history at length. " * 12


def history(topic: str) -> list[Turn]:
    """A conversation long enough (over 256 tokens) for its state to be worth keeping."""
    return [Turn("user", f"{topic}. {FILLER}"), Turn("assistant", f"Yes, {topic}.")]


async def reply(m: LocalModel, turns: list[Turn]) -> str:
    return "".join([c async for c in m.stream(SYSTEM, turns)])


async def test_two_conversations_keep_one_state_each() -> None:
    m = LocalModel(context=1024, threads=1, max_output_tokens=8, sampling=Sampling(0.0))
    try:
        await m.open()
        llm = m._llm
        assert llm is not None and isinstance(llm.cache, ConversationCache)
        cache = llm.cache
        a = [*history("Ana likes sailing"), Turn("user", "What does Ana like?")]
        b = [*history("Bruno plays chess"), Turn("user", "What does Bruno play?")]
        a_answer = await reply(m, a)
        await reply(m, b)
        assert len(cache.cache_state) == 2  # each saved after its reply
        now = llm._input_ids.tolist()  # Bruno's, evaluated last
        (a_key,) = [k for k in cache.cache_state if llm.longest_token_prefix(k, now) < len(k) // 2]
        # Ana's next turn: her state is found again by its start, and replaced by the longer one.
        a_next = [*a, Turn("assistant", a_answer), Turn("user", "And in winter?")]
        await reply(m, a_next)
        assert len(cache.cache_state) == 2
        assert a_key not in cache.cache_state
        longest = max(cache.cache_state, key=len)
        assert llm.longest_token_prefix(a_key, longest) >= len(a_key) - 16
        # A short exchange is not worth a saved state: evaluated again faster than copied.
        await reply(m, [Turn("user", "Hi!")])
        assert len(cache.cache_state) == 2
    finally:
        await m.close()
