"""Crash recovery: the turns a killed process left mid-answer, settled, and the note for each.

A process killed while answering leaves the person's turn `pending` (the engine's own
`finally` never ran) and maybe a placeholder or half an answer on the platform. After
a restart each such turn gets exactly one outcome: it is settled `interrupted` (never
context, never pending again) and its person gets one short note saying how to ask again.
The claim and the settling are one transaction, so two processes never both tell.

An answer recorded `ok` before the kill is left as it is: it was recorded after the whole
text had streamed to the platform, only its last edit may not have landed, and sending
it again would risk saying it twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from bot.i18n import t
from bot.ports import TurnRecovery
from bot.types import Done, Orphan, Outcome

log = logging.getLogger(__name__)


class Recovery:
    """Finds the turns a dead process of this platform left pending and words their notes."""

    def __init__(
        self,
        store: TurnRecovery,
        *,
        platform: str,
        processes: Sequence[str],
        default_lang: str = "en",
        button: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.platform = platform
        self.processes = tuple(processes)  # the heartbeat names of this platform's processes
        self.default_lang = default_lang
        self.button = button  # the platform shows ↻ under the note; else /retry is named
        self.clock = clock
        # Taken before the platform hands this process any message: every turn stored
        # since is this process's own, however slowly the first sweep comes.
        self.started = clock()

    async def claim(self) -> list[tuple[Orphan, Done]]:
        """Settle the orphaned turns as interrupted; each with the Done that tells its person.

        A turn is claimed once, by one process: a second call (or restart) finds nothing.
        """
        orphans = await self.store.claim_orphans(
            self.platform, self.processes, started=self.started, now=self.clock()
        )
        key = "recovery_note_button" if self.button else "recovery_note_command"
        return [
            (o, Done(o.ref, Outcome.INTERRUPTED, t(key, o.lang or self.default_lang)))
            for o in orphans
        ]
