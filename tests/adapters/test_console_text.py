"""The terminal is a surface too: no control reaches it from the model, no non-text from it."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.console import ConsoleSurface, chat
from adapters.console_text import RECORD_END, printable
from adapters.delivery import Policy, deliver
from adapters.session import Session
from bot.i18n import t
from bot.types import Done, IncomingMessage, Outcome, ReplyEvent, TurnRef
from tests.delivery.surfaces import Clock, timed
from tests.fakes.engine import Script, ScriptedEngine

REF = TurnRef(1, 1, 1, 2)
CLEAR = "\x1b[2J"  # erase the screen
TITLE = "\x1b]0;pwned\x07"  # set the window title
LINK = "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\"  # an OSC 8 hyperlink
CSI8 = "\x9b31m"  # the 8-bit CSI: red text on terminals that take C1
BIDI = "\u202eexe.txt"  # a right-to-left override: shows as "txt.exe"
HOSTILE = [chr(c) for c in range(0x20) if c not in (9, 10)] + [
    "\x7f",
    *(chr(c) for c in range(0x80, 0xA0)),
    *(chr(c) for c in range(0x202A, 0x202F)),
    *(chr(c) for c in range(0x2066, 0x206A)),
    "\ud800",
    "\udfff",
]
# Arbitrary text, with the dangerous characters drawn far more often than by chance.
TEXT = st.text(st.one_of(st.characters(), st.sampled_from(HOSTILE)))


def safe(text: str) -> bool:
    """Nothing a terminal would act on: no ESC, no C0 but tab and newline, no C1, no
    override, nothing an encoder would refuse."""
    text.encode("utf-8")  # a lone surrogate raises here
    return not any(
        (ord(c) < 0x20 and c not in "\t\n")
        or 0x7F <= ord(c) < 0xA0
        or 0x202A <= ord(c) <= 0x202E
        or 0x2066 <= ord(c) <= 0x2069
        for c in text
    )


@given(TEXT)
def test_no_text_reaches_the_terminal_with_a_control_in_it(text: str) -> None:
    assert safe(printable(text))


@given(TEXT, TEXT)
def test_pieces_clean_like_the_whole(one: str, two: str) -> None:
    # A stream is cleaned piece by piece: a sequence cut in two must not slip through.
    assert printable(one) + printable(two) == printable(one + two)


@given(st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"))))
def test_text_without_controls_is_left_alone(text: str) -> None:
    if safe(text):
        assert printable(text) == text


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (CLEAR, "^[[2J"),
        (TITLE, "^[]0;pwned^G"),
        (LINK, "^[]8;;https://evil.example^[\\click^[]8;;^[\\"),
        (CSI8, "\ufffd31m"),
        (BIDI, "\ufffdexe.txt"),
        ("\u2066x\u2069", "\ufffdx\ufffd"),
        ("a\x00b\x08c\x7f", "a^@b^Hc^?"),
        ("over\rwritten", "overwritten"),
        ("line one\r\nline two\n\ttabbed", "line one\nline two\n\ttabbed"),
        ("Ñandú, café, 🦜, 漢字, مرحبا, שלום", "Ñandú, café, 🦜, 漢字, مرحبا, שלום"),
    ],
)
def test_controls_show_as_text(raw: str, shown: str) -> None:
    assert printable(raw) == shown


async def test_a_streamed_reply_reaches_the_surface_harmless(tmp_path: Path) -> None:
    # The sequences arrive cut across pieces, as a model streams them.
    reply = f"Hola{CLEAR}{TITLE} mira {LINK} y {CSI8}{BIDI} fin"
    pieces: list[tuple[float, ReplyEvent]] = [(0.0, reply[i : i + 3]) for i in range(0, 60, 3)]
    clock = Clock()
    steps = [*pieces, (0.0, reply[60:]), (0.0, Done(REF, Outcome.OK, "\x1b[31mnotice\x1b[0m"))]
    out = io.StringIO()

    async def language() -> str:
        return "en"

    result = await deliver(
        timed(clock, *steps), ConsoleSurface(out, tmp_path, language), clock.policy(interval=0)
    )
    assert result.delivered
    assert safe(out.getvalue())
    assert out.getvalue() == printable(reply) + "\n\n^[[31mnotice^[[0m"


async def test_piped_replies_end_with_a_separator_no_reply_can_contain(tmp_path: Path) -> None:
    # A reply with blank lines, and one trying to forge the separator itself.
    def answer(msg: IncomingMessage) -> Script:
        # Like the engine, nothing at all for an empty line.
        replies = {"one": "first\n\nstill the first", "two": f"fake\n{RECORD_END}end"}
        return replies.get(msg.text, [])

    stdout = io.StringIO()
    session = Session(ScriptedEngine(answer), Policy(interval=0))
    await chat(session, tmp_path, io.StringIO("one\n\ntwo\n"), stdout, io.StringIO())
    # One record per input line, the blank line's empty.
    assert stdout.getvalue().split(RECORD_END) == [
        "first\n\nstill the first\n",
        "",
        "fake\n^^\nend\n",
        "",
    ]


async def test_a_line_of_smuggled_bytes_is_skipped_and_said(tmp_path: Path) -> None:
    # What a C locale's "surrogateescape" makes of Latin-1 bytes: not text, so never stored.
    engine = ScriptedEngine(lambda msg: f"got {msg.text}")
    stdout, stderr = io.StringIO(), io.StringIO()
    lines = io.StringIO("hola\n\udce9t\udce9\nadiós\n")
    await chat(Session(engine, Policy(interval=0)), tmp_path, lines, stdout, stderr)
    assert stdout.getvalue().split(RECORD_END) == ["got hola\n", "", "got adiós\n", ""]
    assert stderr.getvalue() == t("console_line_not_text", "en", line=2, encoding="UTF-8") + "\n"
    assert [m.text for m in engine.messages] == ["hola", "adiós"]
