"""Asking the model: its answer streamed, and what came of it (outcome and notice)."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field

from bot.i18n import t
from bot.ports import ChatModel, ModelBlocked, ModelError, ModelUnavailable, Substitute
from bot.types import Outcome, Turn

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Asking:
    """Filled in while the answer streams. Until the model has finished, whatever stops
    the caller (closing the stream, a chat that is gone) leaves it interrupted."""

    started: float  # time.monotonic() when the person's message was taken
    outcome: Outcome = Outcome.INTERRUPTED
    notice: str = ""
    parts: list[str] = field(default_factory=list)
    first_token_ms: int | None = None

    @property
    def reply(self) -> str:
        return "".join(self.parts)


async def ask(
    model: ChatModel, system: str, turns: Sequence[Turn], text: str, lang: str, asking: Asking
) -> AsyncGenerator[str, None]:
    """The model's answer to `text` as it comes; a failure becomes `asking`'s outcome and
    a localised notice, never an exception."""
    try:
        substitute: Substitute | None = None  # a fallback answered (TERTULIA_FALLBACK)
        async with aclosing(model.stream(system, turns)) as stream:
            async for piece in stream:
                if isinstance(piece, Substitute):
                    substitute = piece
                    continue
                if not piece:
                    continue
                if asking.first_token_ms is None:
                    asking.first_token_ms = int((time.monotonic() - asking.started) * 1000)
                asking.parts.append(piece)
                yield piece
        parts = asking.parts
        asking.outcome = Outcome.OK if parts else Outcome.FAILED
        asking.notice = "" if parts else t("empty_reply", lang)
        # The local model reads the start and end of a message too long for it.
        room = getattr(model, "newest_room", None)
        limit = room(system) if parts and room is not None else None
        if limit is not None and (size := model.estimate_tokens(text)) > limit:
            chars = len(text) * limit // size
            asking.notice = t("local_cut", lang, limit=limit, chars=chars)
        if parts and substitute is not None:
            failed = ", ".join(substitute.failed)
            asking.notice = t("fallback_answered", lang, backend=substitute.backend, failed=failed)
    except ModelBlocked:
        asking.outcome, asking.notice = Outcome.BLOCKED, t("model_blocked", lang)
    except ModelUnavailable as exc:
        log.warning("model unavailable: %s", exc)
        asking.outcome, asking.notice = Outcome.FAILED, t("model_unavailable", lang)
    except ModelError as exc:
        log.warning("model error: %s", exc)
        reason = str(exc)[:200]
        asking.outcome, asking.notice = Outcome.FAILED, t("model_error", lang, reason=reason)
    except Exception:
        log.exception("model backend crashed")
        reason = "internal error"
        asking.outcome, asking.notice = Outcome.FAILED, t("model_error", lang, reason=reason)
