"""The people page: accounts and message text by search, a person's conversations, their turns."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import streamlit as st

from adapters.dashboard.shell import rating_mark, reader, tr, when
from storage.sqlite.insights import Conversation, Identity, Insights, Message

SHOWN_TURNS = 300  # of one conversation; the rest stay in the file
SNIPPET = 160


def _who(person: Identity) -> str:
    name = person.display_name or person.platform_user_id
    return f"{name} · {person.platform}:{person.platform_user_id} · #{person.id}"


def _conversation(c: Conversation) -> str:
    mark = " · " + tr("open") if c.active else ""
    rated = f" · 👍 {c.up} 👎 {c.down}" if c.up or c.down else ""
    count = tr("n_messages", count=c.messages)
    return f"#{c.id} · {when(c.started_at)} · {c.chat_id} · {count}{rated}{mark}"


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SNIPPET else flat[: SNIPPET - 1] + "…"


def show() -> None:
    st.title(tr("people"))
    found = reader()
    if found is None:
        return
    query = st.text_input(tr("search"), key="people_search", placeholder=tr("search_hint"))
    people = found.people(query)
    if query.strip():
        _matches(found, query.strip())
    if not people:
        st.info(tr("nobody"))
        return
    st.subheader(tr("accounts"))
    st.dataframe(
        [
            {
                "#": p.id,
                tr("name"): p.display_name,
                tr("platform"): p.platform,
                "id": p.platform_user_id,
                tr("linked_to"): p.person_id,
                tr("lang"): p.lang,
                tr("consent"): p.consent,
                tr("messages"): p.messages,
                tr("last_seen"): when(p.last_at),
            }
            for p in people
        ],
        hide_index=True,
    )
    person = st.selectbox(tr("person"), people, format_func=_who, key="person")
    if person is not None:
        _person(found, person)


def _matches(found: Insights, query: str) -> None:
    hits = found.search(query)
    st.subheader(tr("matching_messages", count=len(hits)))
    if hits:
        st.dataframe([_row(m) for m in hits], hide_index=True)


def _row(m: Message) -> dict[str, object]:
    return {
        tr("when"): when(m.created_at),
        tr("account"): m.user_id,
        tr("conversation"): m.conversation_id,
        tr("role"): m.role,
        tr("text"): _snippet(m.text),
        tr("outcome"): m.outcome,
        tr("rating"): rating_mark(m.rating, m.rating_reason),
    }


def _person(found: Insights, person: Identity) -> None:
    conversations = found.conversations(person.id)
    st.subheader(tr("conversations_of", name=person.display_name or person.platform_user_id))
    if not conversations:
        st.caption(tr("no_conversations"))
        return
    chosen = st.selectbox(
        tr("conversation"), conversations, format_func=_conversation, key="conversation"
    )
    if chosen is None:
        return
    if chosen.summary:
        with st.expander(tr("summary")):
            st.markdown(literal(chosen.summary))  # written from the person's words
    turns(found.messages(chosen.id, SHOWN_TURNS))


# Markdown's own characters, and Streamlit's (":red[...]" colours, "$" maths): escaped, a
# person's text reads as they typed it and can never make the operator's browser do anything.
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>:$<])")
# An image in a model's Markdown would be fetched by the operator's browser on sight: a
# tracking pixel a person can ask the model to write. Shown as its description instead.
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)|!\[([^\]]*)\]\[[^\]]*\]")


def literal(text: str) -> str:
    """`text` as Markdown that shows exactly these characters (a person's words)."""
    return _MARKDOWN.sub(r"\\\1", text)


def without_images(text: str) -> str:
    """A model's Markdown with its images as plain words (links and code stay)."""
    return _IMAGE.sub(lambda m: f"[{m.group(1) or m.group(2) or 'image'}]", text)


def turns(messages: Sequence[Message], under: Callable[[Message], None] | None = None) -> None:
    """A conversation's turns as chat bubbles, each answer's rating under it; `under(m)`
    adds to a bubble (the playground's rating buttons)."""
    for m in messages:
        with st.chat_message("user" if m.role == "user" else "assistant"):
            # A person's words literally; a model's Markdown rendered, but never an image.
            st.markdown(literal(m.text) if m.role == "user" else without_images(m.text))
            notes = [when(m.created_at)]
            if m.kind != "chat":
                notes.append(m.kind)
            if m.outcome != "ok":
                notes.append(m.outcome)
            if m.latency_ms is not None:
                notes.append(f"{m.latency_ms / 1000:.1f} s")
            if m.rating is not None:
                notes.append(rating_mark(m.rating, m.rating_reason))
            st.caption(literal(" · ".join(notes)))  # the reason is the person's words
            if under is not None:
                under(m)
