"""The overview and people pages in Streamlit's AppTest, on a database filled by the real engine."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from pytest import approx
from streamlit.testing.v1 import AppTest

from adapters.dashboard import charts
from adapters.dashboard.text import CATALOG
from storage.sqlite.insights import Insights, Unavailable
from tests.dashboard.conftest import MakeApp


def _count(db: Path, sql: str) -> int:
    with sqlite3.connect(db) as raw:
        return int(raw.execute(sql).fetchone()[0])


def _texts(at: AppTest) -> list[str]:
    """Every markdown and caption text on the page, in order."""
    return [m.value for m in at.markdown] + [c.value for c in at.caption]


def test_overview_shows_the_totals_and_every_chart(filled: Path, make_app: MakeApp) -> None:
    at = make_app(filled).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["People"] == "2"
    assert metrics["Conversations"] == "2"
    assert metrics["Messages"] == f"{_count(filled, 'SELECT count(*) FROM messages'):,}"
    assert metrics["👍 share (%)"] == "50 %"  # one 👍, one 👎
    # Messages and tokens per day, latency percentiles, the 👍 share, errors by kind.
    assert len(at.get("vega_lite_chart")) == 5
    assert "No errors in this period." not in _texts(at)


def test_the_figures_behind_the_charts(filled: Path) -> None:
    found = Insights(filled)
    today = datetime.now(UTC).date()
    assert [(p, n) for _, p, n, _ in found.traffic(0)] == [
        (p, _count(filled, "SELECT count(*) FROM messages JOIN users u ON u.id = user_id"
                           f" WHERE u.platform = '{p}'"))
        for p in ("discord", "telegram")
    ]  # fmt: skip
    assert found.ratings(0) == [(today, 1, 1)]
    assert found.errors(0) == [(today, "failed", 1)]
    (latencies,) = found.latencies(0)  # the three full answers (not the failed one)
    assert latencies[0] == today and latencies[1].size == 3
    assert found.traffic(time.time() + 86400) == []  # nothing written tomorrow
    values = np.arange(1, 101, dtype=np.float64)
    daily, overall = charts.percentiles([(today, values, values / 2)])
    assert [(p, v) for _, p, v in daily] == [(50, 50.5), (90, approx(90.1)), (99, approx(99.01))]
    assert overall["p50"] == 50.5 and overall["first_p50"] == 25.25


def test_people_search_opens_a_conversation_with_its_ratings_inline(
    filled: Path, make_app: MakeApp
) -> None:
    at = make_app(filled).run()
    at.switch_page("views/people.py").run()
    at.text_input(key="people_search").input("Ana").run()
    assert not at.exception
    assert at.selectbox(key="person").options == ["Ana · telegram:ana1 · #1"]
    texts = _texts(at)
    assert "Hola, ¿me ayudas con una paella?" in texts
    assert "Reply to: ¿Y cuánto arroz?" in texts
    captions = [c.value for c in at.caption]
    assert any(c.endswith("👍") for c in captions)
    assert any(c.endswith("👎 too short") for c in captions)


def test_search_finds_message_text_of_anyone(filled: Path, make_app: MakeApp) -> None:
    at = make_app(filled).run()
    at.switch_page("views/people.py").run()
    at.text_input(key="people_search").input("monad").run()
    assert not at.exception
    found = at.dataframe[0].value
    assert list(found["Text"]) == ["Reply to: What is a monad?", "What is a monad?"]
    assert any("No account matches." in i.value for i in at.info)


def test_browsing_never_writes_the_database(filled: Path, make_app: MakeApp) -> None:
    def state() -> tuple[str, int]:
        return hashlib.sha256(filled.read_bytes()).hexdigest(), filled.stat().st_mtime_ns

    before = state()
    at = make_app(filled).run()
    at.segmented_control(key="window").set_value(0).run()
    at.switch_page("views/people.py").run()
    at.selectbox(key="person").select_index(1).run()
    assert at.chat_message  # Ana's conversation, read
    at.text_input(key="people_search").input("paella").run()
    assert not at.exception and at.dataframe  # the messages found, read
    assert state() == before
    # The file is in WAL mode: any write would sit in the log, and the log holds nothing.
    # (A read-only reader may create the empty log and its index, as any reader does.)
    wal = filled.with_name(filled.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0


def test_the_reader_cannot_write(filled: Path) -> None:
    with Insights(filled)._db() as conn, pytest.raises(sqlite3.OperationalError, match="readonly"):
        conn.execute("DELETE FROM messages")


def test_a_missing_or_old_database_is_said_not_crashed(tmp_path: Path, make_app: MakeApp) -> None:
    at = make_app(tmp_path / "none.db").run()
    assert not at.exception
    assert "no database at" in at.info[0].value
    old = tmp_path / "old.db"
    sqlite3.connect(old).execute("CREATE TABLE schema_migrations (name TEXT)").connection.commit()
    with pytest.raises(Unavailable, match="start the bot once"):
        Insights(old).check()


def test_a_password_hides_everything_until_given(filled: Path, make_app: MakeApp) -> None:
    at = make_app(filled, TERTULIA_DASHBOARD_PASSWORD="s3cret-long-enough").run()
    assert not at.metric and not at.get("vega_lite_chart")
    at.text_input[0].input("wrong")
    at.button[0].click().run()
    assert at.error[0].value == "Wrong password."
    assert not at.metric
    at.text_input[0].input("s3cret-long-enough")
    at.button[0].click().run()
    assert not at.exception
    assert {m.label for m in at.metric} >= {"People", "Messages"}


def test_every_string_is_in_english_and_spanish() -> None:
    assert all(set(entry) == {"en", "es"} for entry in CATALOG.values())


def test_the_pages_speak_spanish_when_told(filled: Path, make_app: MakeApp) -> None:
    at = make_app(filled, TERTULIA_LANG="es").run()
    assert at.title[0].value == "Resumen"
    assert {m.label for m in at.metric} >= {"Personas", "Conversaciones", "Mensajes"}
    at.selectbox(key="dashboard_lang").set_value("en").run()
    assert at.title[0].value == "Overview"


def test_a_persons_text_is_shown_literally_and_a_models_images_never_load() -> None:
    from adapters.dashboard.people import literal, without_images

    planted = "![x](http://evil.example/p.png?u=bob) :red[FAKE] $x$ <img src=x> **hi**"
    shown = literal(planted)
    # Every Markdown and Streamlit directive character is escaped: nothing renders, nothing
    # is fetched; the characters themselves are all still there, in order.
    assert "![" not in shown and ":red[" not in shown and "**" not in shown
    assert shown.replace("\\", "") == planted
    model = "See ![pixel](http://evil.example/p.png) and [the docs](https://x.org) `code`"
    assert without_images(model) == "See [pixel] and [the docs](https://x.org) `code`"
    assert without_images("![][ref]\n\n[ref]: http://evil.example/p.png").startswith("[image]")
