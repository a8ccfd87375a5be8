"""A scripted model that tells chat, fact extraction and summary requests apart."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Sequence
from typing import Any

from bot.learning import EXTRACT_PROMPT, SUMMARY_PROMPT
from bot.types import Turn
from tests.fakes.model import FakeModel


class MemoryModel(FakeModel):
    """Chat requests answer "reply-N"; extraction and summary requests answer from queues.

    `extractions`/`summaries` keep the prompts those requests got; `gate`, when set, holds
    every background request until it is opened.
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.changes: list[dict[str, Any] | Exception] = []
        self.summary_texts: list[str | Exception] = []
        self.extractions: list[str] = []
        self.summaries: list[str] = []
        self.chats: list[tuple[str, list[Turn]]] = []
        self.gate: asyncio.Event | None = None

    async def stream(self, system: str, turns: Sequence[Turn]) -> AsyncGenerator[str, None]:
        background = system in (EXTRACT_PROMPT,) or system.startswith(SUMMARY_PROMPT[:40])
        if background and self.gate is not None:
            await self.gate.wait()
        if system == EXTRACT_PROMPT:
            self.extractions.append(turns[-1].text)
            answer = self.changes.pop(0) if self.changes else {}
            if isinstance(answer, Exception):
                raise answer
            yield json.dumps(answer, ensure_ascii=False)
        elif system.startswith(SUMMARY_PROMPT[:40]):
            self.summaries.append(turns[-1].text)
            summary = self.summary_texts.pop(0) if self.summary_texts else "A summary."
            if isinstance(summary, Exception):
                raise summary
            yield summary
        else:
            self.chats.append((system, list(turns)))
            yield f"reply-{len(self.chats)}"
