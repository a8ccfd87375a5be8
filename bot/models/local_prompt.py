"""The local model's prompt: a conversation fitted to its window by real tokens, never losing
the start of the newest message."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.types import Turn

log = logging.getLogger(__name__)

# Chat-template tokens around each message (<|im_start|>role\n ... <|im_end|>\n).
PER_MESSAGE = 6
# Room for the template's default system prompt and the assistant header.
PROMPT_MARGIN = 32
# Shown to the model where the middle of an over-long message was taken out.
CUT_MARKER = "\n\n[… {count:,} characters cut …]\n\n"
# Of what is kept of an over-long message, the share taken from its beginning: that is
# where "Summarise this:" usually is; the end keeps a closing question.
HEAD_SHARE = 0.6

Tokens = Callable[[str], list[int]]
Text = Callable[[list[int]], str]


@dataclass(frozen=True, slots=True)
class Fitted:
    """The messages for the chat template, and how many characters of the newest were cut."""

    messages: list[dict[str, str]]
    cut_chars: int = 0


def cut_middle(text: str, budget: int, tokens: Tokens, detokenize: Text) -> tuple[str, int]:
    """`text` within `budget` tokens: its beginning and end around a visible marker.

    Returns the text and the number of characters taken out (0 when it already fits).
    """
    ids = tokens(text)
    if len(ids) <= budget:
        return text, 0
    marker = len(tokens(CUT_MARKER.format(count=len(text))))
    room = budget - marker
    while True:
        head_n = max(1, int(room * HEAD_SHARE))
        tail_n = max(1, room - head_n)
        # A token boundary may fall inside a multi-byte character: drop the broken half.
        head = detokenize(ids[:head_n]).rstrip()
        tail = detokenize(ids[-tail_n:]).lstrip()
        cut = max(1, len(text) - len(head) - len(tail))
        kept = f"{head}{CUT_MARKER.format(count=cut)}{tail}"
        # Text joined at the seams may tokenize a little differently: shrink until it fits.
        over = len(tokens(kept)) - budget
        if over <= 0 or room <= 2:
            return kept, cut
        room -= over


def system_size(system: str, budget: int, tokens: Tokens) -> int:
    """The tokens the system prompt takes of `budget` (at most half: see fit)."""
    return min(len(tokens(system)) + PER_MESSAGE, budget // 2) if system else 0


def room(system: str, budget: int, tokens: Tokens) -> int:
    """The most tokens the newest message may take before its middle is cut."""
    return budget - system_size(system, budget, tokens) - PER_MESSAGE


def fit(
    system: str, turns: Sequence[Turn], budget: int, tokens: Tokens, detokenize: Text
) -> Fitted:
    """The system prompt and the newest turns that fit `budget` tokens, oldest dropped first.

    The newest message is always kept: cut in the middle when it alone is too long, so
    an instruction at its start survives.
    """
    head: list[dict[str, str]] = []
    if system:
        size = system_size(system, budget, tokens)
        if size == budget // 2:  # a runaway persona must not crowd out the conversation
            system, _ = cut_middle(system, size - PER_MESSAGE, tokens, detokenize)
        head.append({"role": "system", "content": system})
        budget -= size
    kept: list[dict[str, str]] = []
    cut = 0
    for turn in reversed(turns):
        size = len(tokens(turn.text)) + PER_MESSAGE
        if size > budget:
            if not kept:  # the newest message alone is too long: keep both its ends
                text, cut = cut_middle(turn.text, budget - PER_MESSAGE, tokens, detokenize)
                kept.append({"role": turn.role, "content": text})
            break
        kept.append({"role": turn.role, "content": turn.text})
        budget -= size
    kept.reverse()
    # Chat templates expect the conversation to open with the user (memory, a late
    # system message, may come first when the window is empty).
    while len(kept) > 1 and kept[0]["role"] == "assistant":
        kept.pop(0)
    if len(kept) < len(turns):
        log.debug("local: trimmed %d of %d turns to fit", len(turns) - len(kept), len(turns))
    if cut:
        log.info("local: cut %d characters from the middle of a long message", cut)
    return Fitted(head + kept, cut)


def fold_system(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """Each system message joined to the start of the user message after it.

    For a chat format with no system role (llama-cpp-python's "gemma" drops system messages
    whole, persona and memory with them), the way Gemma's own template does it.
    """
    out: list[dict[str, str]] = []
    waiting: list[str] = []
    for message in messages:
        if message["role"] == "system":
            waiting.append(message["content"])
            continue
        if waiting and message["role"] == "user":
            message = {"role": "user", "content": "\n\n".join([*waiting, message["content"]])}
            waiting = []
        out.append(message)
    if waiting:  # nothing from the user after it (never from the engine): keep it as theirs
        out.append({"role": "user", "content": "\n\n".join(waiting)})
    return out
