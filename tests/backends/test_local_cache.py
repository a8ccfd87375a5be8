"""The real local model keeps one saved state per conversation when people take turns."""

from __future__ import annotations

from pathlib import Path

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


def resident_kib() -> int:
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0])


async def test_a_restored_state_answers_as_a_cold_model_and_stays_small() -> None:
    """A conversation taken back from the cache answers exactly as when it never left, and
    each saved state costs its KV cells, not a copy of the logits table (llama-cpp-python's
    own save_state copied 311 MB of Qwen logits into every saved conversation)."""
    topics = ("Ana likes sailing", "Bruno plays chess", "Carla grows tomatoes", "Dani paints")
    asks = [[*history(t), Turn("user", f"Tell me about {t.split()[0]}.")] for t in topics]
    alone = LocalModel(context=1024, threads=1, max_output_tokens=12, sampling=Sampling(0.0))
    try:
        await reply(alone, asks[0])
        # Asked again with nobody in between: llama goes on from its own state. (A first,
        # cold answer can differ in a word: one batch of 300 tokens rounds differently.)
        expected = await reply(alone, asks[0])
    finally:
        await alone.close()
    m = LocalModel(context=1024, threads=1, max_output_tokens=12, sampling=Sampling(0.0))
    try:
        await m.open()
        await reply(m, asks[0])
        before = resident_kib()
        for turns in asks[1:]:
            await reply(m, turns)
        grown_mib = (resident_kib() - before) / 1024
        llm = m._llm
        assert llm is not None and isinstance(llm.cache, ConversationCache)
        assert len(llm.cache.cache_state) == 4
        # Ana again, after three other people: her state comes back from the cache.
        assert await reply(m, asks[0]) == expected
        assert llm.cache.cache_state  # still serving from it
    finally:
        await m.close()
    # Three more saved states of ~300 tokens: a few MB each (the copied logits were 330 MB).
    assert grown_mib < 120, f"three cached conversations grew the process by {grown_mib:.0f} MiB"
