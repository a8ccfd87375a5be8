"""The playground page: chat with the bot's own engine, model and database, as its own account."""

from __future__ import annotations

import streamlit as st

from adapters.dashboard.host import KEY, Playground
from adapters.dashboard.people import turns
from adapters.dashboard.shell import lang, playground, settings, tr
from bot.ports import ModelError, StorageError
from bot.types import Attachment
from storage.sqlite.insights import Insights, Message, Unavailable

FILES_KEY = "playground_files"


def _history() -> list[Message]:
    try:
        return Insights(settings().db).open_turns(KEY.platform, KEY.user_id, KEY.chat_id)
    except Unavailable:
        return []  # the database is made by the first message


def _rated(host: Playground, reply: Message, key: str) -> None:
    # st.feedback says 1 for 👍 and 0 for 👎; None when taken back.
    value = st.session_state.get(key)
    host.rate(reply.id, None if value is None else (1 if value == 1 else -1))


def show() -> None:
    st.title(tr("playground"))
    current = settings()
    backend = current.chosen_backend()
    model = current.backend_options(backend).get("model") or backend
    st.caption(tr("playground_about", backend=backend, model=model, db=current.db))
    try:
        host = playground()
    except (ModelError, StorageError) as exc:
        st.error(str(exc))
        return
    if st.button(tr("new_conversation"), key="new_conversation"):
        for _ in host.stream("/new", lang(), []):
            pass  # the new, empty conversation shows below
    history = _history()
    answers = [m.id for m in history if m.role == "assistant" and m.outcome == "ok"]
    # Only the newest answer takes a rating here, as /good and /bad do in a chat.
    turns(history, lambda m: _thumbs(host, m) if answers and m.id == answers[-1] else None)
    for n, file in enumerate(st.session_state.get(FILES_KEY, [])):
        st.download_button(file.name, file.data, file.name, key=f"file{n}")
    prompt = st.chat_input(tr("say_something"), key="playground_input")
    if not prompt:
        return
    with st.chat_message("user"):
        st.markdown(prompt)
    files: list[Attachment] = []
    with st.chat_message("assistant"):
        st.write_stream(host.stream(prompt, lang(), files))
    st.session_state[FILES_KEY] = files  # a reply's file (/export) stays offered until the next
    st.rerun()  # shows the exchange as stored, with its rating buttons


def _thumbs(host: Playground, reply: Message) -> None:
    key = f"rate{reply.id}"
    default = None if reply.rating is None else int(reply.rating > 0)
    st.feedback("thumbs", key=key, default=default, on_change=_rated, args=(host, reply, key))
