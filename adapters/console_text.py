"""What the terminal is given to print: the model's text with every control neutralised."""

from __future__ import annotations

# Ends each reply when the chat is piped: a line holding only ASCII RS (U+001E, "record
# separator"). `printable` turns every C0 control into visible text, so no reply can
# contain one: a script splitting on it never cuts a reply, however many blank lines
# that reply has. A terminal prints RS as nothing (the line looks blank), `less` as ^^.
RECORD_END = "\x1e\n"

_REPLACEMENT = "\ufffd"


def _table() -> dict[int, str]:
    # Caret notation for C0 and DEL, as `cat -v` and the terminal's own echo show them:
    # ESC becomes "^[", so "\x1b[2J" prints as the harmless text "^[[2J".
    table = {c: "^" + chr(0x40 + c) for c in range(0x20)}
    del table[0x09], table[0x0A]  # tab and newline are text
    table[0x0D] = ""  # CR: a Windows line end is dropped, a line cannot be overwritten
    table[0x7F] = "^?"
    # C1 controls (U+009B is an 8-bit CSI), bidi overrides and isolates (text that reads
    # in another order than it is stored), lone surrogates (no encoder would write them).
    spans = (range(0x80, 0xA0), range(0x202A, 0x202F), range(0x2066, 0x206A))
    for span in (*spans, range(0xD800, 0xE000)):
        table.update(dict.fromkeys(span, _REPLACEMENT))
    return table


_TABLE = _table()


def printable(text: str) -> str:
    """`text` safe to write to a terminal: no escape sequence, no control but tab and newline.

    One character at a time, with no state: pieces of a streamed reply can be cleaned
    one by one (an escape sequence split across two pieces is as harmless as a whole one).
    Letters, accents, emoji and CJK pass unchanged.
    """
    return text.translate(_TABLE)
