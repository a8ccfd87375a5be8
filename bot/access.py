"""Who may talk to the bot and how much: allow-lists, the rate limit and the daily budget."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.i18n import t
from bot.types import IncomingMessage, Standing

DAY = 86400.0
# A person over their daily tokens is reminded at most this often (seconds).
BUDGET_NOTICE_EVERY = 3600.0


@dataclass(frozen=True, slots=True)
class Access:
    """The operator's rules. Empty allow-lists let everyone in; 0 turns a limit off."""

    allowed_users: frozenset[str] = frozenset()  # "platform:user_id"
    allowed_chats: frozenset[str] = frozenset()  # "platform:chat_id"
    allowed_guilds: frozenset[str] = frozenset()  # Discord server ids
    rate_per_minute: int = 0  # questions to the model a minute, in the long run
    burst: int = 1  # ... of which this many may come at once
    daily_tokens: int = 0  # tokens of questions and answers a UTC day

    def admits(self, msg: IncomingMessage) -> bool:
        """Whether the allow-lists let this message in: its sender, its chat or its server
        is listed (any one suffices), or no list is set at all."""
        if not (self.allowed_users or self.allowed_chats or self.allowed_guilds):
            return True
        key = msg.key
        if f"{key.platform}:{key.user_id}" in self.allowed_users:
            return True
        # A Telegram forum topic ("-100123:topic7") belongs to its group ("-100123").
        group = key.chat_id.split(":", 1)[0]
        if {f"{key.platform}:{key.chat_id}", f"{key.platform}:{group}"} & self.allowed_chats:
            return True
        return msg.guild_id is not None and msg.guild_id in self.allowed_guilds

    @property
    def window(self) -> float:
        """Seconds in which `burst` questions may be asked: `rate_per_minute` on average."""
        return self.burst * 60.0 / self.rate_per_minute if self.rate_per_minute > 0 else 0.0

    def wait(self, standing: Standing, now: float) -> float:
        """Seconds until this identity may ask the model again (0: now)."""
        if self.rate_per_minute <= 0 or standing.burst_started is None:
            return 0.0
        return max(0.0, standing.burst_started + self.window - now)

    def spent(self, standing: Standing) -> bool:
        """Whether today's tokens are used up (the answer that crossed the line still came)."""
        return 0 < self.daily_tokens <= standing.tokens_today

    def limited(self, standing: Standing, now: float) -> tuple[str, float] | None:
        """("budget" or "rate", seconds until they may continue); None within limits."""
        if self.spent(standing):
            return "budget", until_midnight(now)
        wait = self.wait(standing, now)
        return ("rate", wait) if wait > 0 else None

    def notice(self, reason: str, wait: float, lang: str) -> str:
        """What someone over a limit is told: which one, and when they may go on."""
        if reason == "budget":
            return t("budget_spent", lang, limit=self.daily_tokens, wait=duration(wait, lang))
        return t("rate_limited", lang, wait=duration(wait, lang))


OPEN = Access()  # everyone in, no limits: the default


def day(now: float) -> str:
    """The UTC day of `now`, as the store counts usage."""
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")


def until_midnight(now: float) -> float:
    """Seconds until the next 00:00 UTC, when daily budgets start again."""
    today = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return (today + timedelta(days=1)).timestamp() - now


def duration(seconds: float, lang: str) -> str:
    """A short wait as people read it: "40 s", "3 min", "2 h 5 min" (rounded up)."""
    secs = max(1, math.ceil(seconds))
    if secs < 60:
        return t("seconds", lang, n=secs)
    minutes = math.ceil(secs / 60)
    if minutes < 60:
        return t("minutes", lang, n=minutes)
    hours, rest = divmod(minutes, 60)
    return t("hours", lang, h=hours, m=rest)
