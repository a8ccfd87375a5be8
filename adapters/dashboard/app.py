"""The dashboard's entry script (`streamlit run`): sign-in, language, and the pages."""

from __future__ import annotations

import hmac
import time
from pathlib import Path

import streamlit as st

from adapters.dashboard.launch import is_loopback
from adapters.dashboard.shell import LANG_KEY, lang, settings, tr
from adapters.dashboard.text import LANGS

VIEWS = Path(__file__).resolve().parent / "views"
SIGNED_IN = "dashboard_signed_in"


def signed_in() -> bool:
    """True once the operator gave TERTULIA_DASHBOARD_PASSWORD (always, when none is set)."""
    secret = settings().dashboard_password
    if secret is None and not is_loopback(str(st.get_option("server.address") or "127.0.0.1")):
        # The password was taken out of .env while the server listens beyond this machine.
        st.error(tr("password_needed"))
        return False
    if secret is None or st.session_state.get(SIGNED_IN):
        return True
    with st.form("sign_in"):
        given = st.text_input(tr("password"), type="password")
        sent = st.form_submit_button(tr("sign_in"))
    if sent:
        # Constant time: how long a wrong guess takes says nothing about the password.
        if hmac.compare_digest(given.encode(), secret.get_secret_value().encode()):
            st.session_state[SIGNED_IN] = True
            st.rerun()
        time.sleep(1)  # a guess a second at most, per session
        st.error(tr("wrong_password"))
    return False


def main() -> None:
    st.set_page_config(page_title=tr("title"), page_icon=":material/chat:", layout="wide")
    if not signed_in():
        st.stop()
    # Streamlit's own icon font: emoji would need one on the operator's machine.
    pages = [
        st.Page(
            VIEWS / "overview.py", title=tr("overview"), icon=":material/monitoring:", default=True
        ),
        st.Page(VIEWS / "playground.py", title=tr("playground"), icon=":material/chat:"),
        st.Page(VIEWS / "people.py", title=tr("people"), icon=":material/group:"),
        st.Page(VIEWS / "dataset.py", title=tr("dataset"), icon=":material/dataset:"),
    ]
    page = st.navigation(pages)
    with st.sidebar:
        st.selectbox(
            tr("language"), LANGS, index=LANGS.index(lang()), key=LANG_KEY,
            format_func=lambda code: {"en": "English", "es": "Español"}[code],
        )  # fmt: skip
        if st.button(tr("refresh")):
            st.cache_data.clear()
    page.run()


main()
