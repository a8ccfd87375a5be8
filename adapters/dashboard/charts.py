"""The overview page: totals, then messages, tokens, latency, ratings and errors per day."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import streamlit as st

from adapters.dashboard.shell import reader, tr
from storage.sqlite.insights import DAY, Floats, Insights

WINDOWS = (7, 30, 90, 365, 0)  # days; 0 is everything
PERCENTILES = (50, 90, 99)
Rows = list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Figures:
    """Everything the page draws, a few rows a day: cheap to keep and to copy from the cache."""

    totals: tuple[int, int, int]  # people, conversations, messages (all time)
    traffic: list[tuple[date, str, int, int]]  # day, platform, messages, tokens
    ratings: list[tuple[date, int, int]]  # day, 👍, 👎
    errors: list[tuple[date, str, int]]  # day, outcome, exchanges
    latency: list[tuple[date, int, float]]  # day, percentile, ms
    overall: dict[str, float]  # the window's p50/p90/p99 and first-token p50, in ms


def percentiles(days: Sequence[tuple[date, Floats, Floats]]) -> tuple[list[Any], dict[str, float]]:
    """Daily reply latency percentiles, and the whole window's (reply and first token)."""
    daily = [
        (day, p, float(v))
        for day, total, _ in days
        if total.size
        for p, v in zip(PERCENTILES, np.percentile(total, PERCENTILES), strict=True)
    ]
    every = np.concatenate([total for _, total, _ in days]) if days else np.empty(0)
    if not every.size:
        return daily, {}
    found = np.percentile(every, PERCENTILES)
    overall = {f"p{p}": float(v) for p, v in zip(PERCENTILES, found, strict=True)}
    first = np.concatenate([f for _, _, f in days])
    if first.size:
        overall["first_p50"] = float(np.percentile(first, 50))
    return daily, overall


# Cached a little while: every click reruns the page, and the figures move slowly.
@st.cache_data(ttl=30, show_spinner=False)
def figures(path: str, since: float) -> Figures:
    """The page's figures from the database at `path`, for the days since `since`."""
    found = Insights(path)
    daily, overall = percentiles(found.latencies(since))
    return Figures(
        found.totals(),
        found.traffic(since),
        found.ratings(since),
        found.errors(since),
        daily,
        overall,
    )


def _x(day: date) -> datetime:
    # A datetime, not a date, so the charts read the column as time.
    return datetime(day.year, day.month, day.day)


def _window_label(days: int) -> str:
    return tr("all_time") if days == 0 else tr("last_days", days=days)


def show() -> None:
    st.title(tr("overview"))
    found = reader()
    if found is None:
        return
    days = st.segmented_control(
        tr("window"), WINDOWS, default=30, format_func=_window_label, key="window"
    )
    days = 30 if days is None else days
    # Whole UTC days, so the cache key holds for the day rather than for one second.
    since = 0.0 if days == 0 else float((int(time.time()) // DAY - days + 1) * DAY)
    shown = figures(str(found.path), since)
    people, conversations, messages = shown.totals
    up = sum(u for _, u, _ in shown.ratings)
    rated = up + sum(d for _, _, d in shown.ratings)
    p50 = shown.overall.get("p50")
    cols = st.columns(5)
    cols[0].metric(tr("people"), f"{people:,}")
    cols[1].metric(tr("conversations"), f"{conversations:,}")
    cols[2].metric(tr("messages"), f"{messages:,}")
    cols[3].metric(tr("latency_p50"), "–" if p50 is None else f"{p50 / 1000:.2f} s")
    cols[4].metric(tr("up_share"), f"{100 * up / rated:.0f} %" if rated else "–")
    if not shown.traffic:
        st.info(tr("no_data"))
        return
    _traffic(shown)
    _latency(shown)
    _quality(shown)


def _traffic(shown: Figures) -> None:
    day, platform, messages, tokens = tr("day"), tr("platform"), tr("messages"), tr("tokens")
    rows = [{day: _x(d), platform: p, messages: n, tokens: k} for d, p, n, k in shown.traffic]
    left, right = st.columns(2)
    left.subheader(tr("messages_per_day"))
    left.bar_chart(rows, x=day, y=messages, color=platform)
    right.subheader(tr("tokens_per_day"))
    right.bar_chart(rows, x=day, y=tokens, color=platform)


def _latency(shown: Figures) -> None:
    st.subheader(tr("latency"))
    if not shown.latency:
        st.caption(tr("no_data"))
        return
    overall = shown.overall
    listed = ", ".join(f"p{p} {overall[f'p{p}'] / 1000:.2f} s" for p in PERCENTILES)
    first = overall.get("first_p50")
    st.caption(
        tr(
            "latency_caption",
            figures=listed,
            first="–" if first is None else f"{first / 1000:.2f} s",
        )
    )
    day, percentile = tr("day"), tr("percentile")
    rows = [{day: _x(d), percentile: f"p{p}", "ms": round(v)} for d, p, v in shown.latency]
    st.line_chart(rows, x=day, y="ms", color=percentile)


def _quality(shown: Figures) -> None:
    day, share, kind, count = tr("day"), tr("up_share"), tr("kind"), tr("count")
    left, right = st.columns(2)
    left.subheader(tr("ratings"))
    if shown.ratings:
        rows = [
            {day: _x(d), share: round(100 * up / (up + down), 1), "👍": up, "👎": down}
            for d, up, down in shown.ratings
        ]
        left.line_chart(rows, x=day, y=share)
    else:
        left.caption(tr("no_ratings"))
    right.subheader(tr("errors"))
    if shown.errors:
        rows = [{day: _x(d), kind: k, count: n} for d, k, n in shown.errors]
        right.bar_chart(rows, x=day, y=count, color=kind)
    else:
        right.caption(tr("no_errors"))
