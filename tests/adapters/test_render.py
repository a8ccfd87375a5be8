"""The Telegram renderer shows every word of the reply, with entities the Bot API accepts."""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from typing import Any

import pytest
import telegramify_markdown
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.telegram.render import LIMIT, Rendered, render, utf16_len

Renderer = Callable[[str], Rendered]
_TOKEN = re.compile(r"[A-Za-z0-9]+")
_SPLITTABLE = {"bold", "italic", "underline", "strikethrough", "spoiler"}
_QUOTES = {"blockquote", "expandable_blockquote"}


def shown(text: str, entities: tuple[dict[str, Any], ...]) -> set[str]:
    """The words a reader can find: in the text, or behind a link."""
    words = set(_TOKEN.findall(text))
    for e in entities:
        words.update(_TOKEN.findall(e.get("url", "")))
    return words


def check_entities(text: str, entities: tuple[dict[str, Any], ...]) -> None:
    """In range, never crossing, and nested only as the Bot API's formatting rules allow."""
    total = utf16_len(text)
    spans = sorted(entities, key=lambda e: (e["offset"], -e["length"]))
    open_: list[dict[str, Any]] = []
    for e in spans:
        start, end, kind = e["offset"], e["offset"] + e["length"], e["type"]
        assert 0 <= start < end <= total, e
        assert kind != "text_link" or e["url"], e
        while open_ and open_[-1]["offset"] + open_[-1]["length"] <= start:
            open_.pop()
        assert not open_ or end <= open_[-1]["offset"] + open_[-1]["length"], (open_[-1], e)
        for outer in open_:
            pair = (outer["type"], kind)
            assert outer["type"] not in ("pre", "code"), pair
            assert not (kind in _QUOTES and outer["type"] in _QUOTES), pair
            if kind in ("pre", "code"):
                assert outer["type"] in _QUOTES, pair
            elif kind not in _SPLITTABLE and kind not in _QUOTES:
                assert outer["type"] in _SPLITTABLE | _QUOTES, pair
        open_.append(e)


# --- the reported bugs --------------------------------------------------------------------


def test_inline_html_tags_are_shown() -> None:
    md = "Use the <br> tag for line breaks and <div> for blocks"
    assert render(md) == (md, ())


def test_a_script_tag_is_shown_not_dropped() -> None:
    md = "Try <script>alert(1)</script> now"
    assert render(md) == (md, ())


def test_a_link_in_a_table_keeps_its_url() -> None:
    text, entities = render(
        "| name | where |\n|---|---|\n| docs | [docs](https://example.com/docs) |"
    )
    assert "docs (https://example.com/docs)" in text
    assert [e["type"] for e in entities] == ["pre"]


def test_nested_lists_show_every_item() -> None:
    # Reported as raw Markdown from the second nested item on; telegramify-markdown 1.4.1
    # renders these right, so this pins it.
    assert render("- a\n  - b\n  - c\n- d")[0] == "⦁ a\n  ⦁ b\n  ⦁ c\n⦁ d\n"
    assert render("1. a\n   1. b\n   2. c\n2. d")[0] == "1. a\n  1. b\n  2. c\n2. d\n"


def test_a_code_block_in_a_list_item_is_not_glued_to_its_text() -> None:
    text, entities = render("- step\n  ```\n  make\n  ```\n  then\n- next")
    assert text == "⦁ step\nmake\nthen\n⦁ next\n"
    assert entities == ({"type": "pre", "offset": 7, "length": 4},)


def test_ordered_task_lists_keep_their_numbers() -> None:
    assert render("1. [ ] a\n2. [x] b\n   1. [ ] c")[0] == "1. ☑ a\n2. ✅ b\n  1. ☑ c\n"


# --- the rest of the family ---------------------------------------------------------------


def test_an_html_block_does_not_swallow_what_follows() -> None:
    md = "text\n<details>\n<summary>Sum</summary>\nhidden body\n</details>\nafter"
    assert render(md) == (md, ())


def test_comments_generics_and_escapes_are_shown() -> None:
    assert render("a <!-- note --> b")[0] == "a <!-- note --> b"
    assert render("`List<String>` or List<String>")[0] == "List<String> or List<String>"
    assert render("x \\<b> and \\\\<b>y")[0] == "x <b> and \\<b>y"
    assert render("if a < b and c > d: <3")[0] == "if a < b and c > d: <3"


def test_markup_still_renders_around_protected_angles() -> None:
    text, entities = render("**<T>** in [a <b>](https://x.y/?q=<c>)")
    assert text == "<T> in a <b>"
    assert entities == (
        {"type": "bold", "offset": 0, "length": 3},
        {"type": "text_link", "offset": 7, "length": 5, "url": "https://x.y/?q=<c>"},
    )


def test_autolinks_stay_links_and_emails_stay_plain() -> None:
    text, entities = render("see <https://x.y/z> or <me@x.y>")
    assert text == "see https://x.y/z or me@x.y"
    assert entities == ({"type": "text_link", "offset": 4, "length": 13, "url": "https://x.y/z"},)


def test_telegram_spoiler_tags_still_work() -> None:
    assert render("a <tg-spoiler>b</tg-spoiler> c") == (
        "a b c",
        ({"type": "spoiler", "offset": 2, "length": 1},),
    )


def test_images_and_links_with_no_text_show_their_url() -> None:
    assert render("[](https://x.y)")[0] == "https://x.y"
    text, entities = render("![](https://i.x/p.png)")
    assert "https://i.x/p.png" in text
    assert entities[0]["url"] == "https://i.x/p.png"


def test_an_image_in_a_table_keeps_its_url() -> None:
    text, _ = render("| a |\n|---|\n| ![cat](https://i.x/cat.png) |")
    assert "cat (https://i.x/cat.png)" in text


def test_tables_in_quotes_are_mended_and_in_code_left_alone() -> None:
    text, _ = render("> | a | b |\n> |---|---|\n> | [l](https://u.v) | c |")
    assert text.splitlines()[-1] == "l (https://u.v) | c"
    code = "| a | b |\n|---|---|\n| [l](https://u.v) | c | d |"
    assert render(f"```\n{code}\n```\n\n{code}")[0].startswith(code + "\n\n")


def test_table_cells_past_the_header_are_kept() -> None:
    text, _ = render("| a | b |\n|---|---|\n| x | `p|q` | extra |")
    assert text.splitlines()[-1] == "x | p|q | extra"


def test_unused_reference_definitions_are_shown() -> None:
    md = "Sources:\n\n[1]: https://a.b/one\n[2]: https://a.b/two"
    assert render(md) == (md, ())
    assert render("[x][1]\n\n[1]: https://a.b/one\n[1]: https://a.b/dup")[0] == (
        "x\n[1]: https://a.b/dup"
    )
    text, entities = render("see [x][1]\n\n[1]: https://a.b/one")
    assert text == "see x"
    assert entities[0]["url"] == "https://a.b/one"


def test_links_telegram_would_refuse_show_their_target() -> None:
    assert render("[the docs](docs/x.md)") == ("the docs (docs/x.md)", ())
    assert render("[mail](mailto:a@b.c)") == ("mail (mailto:a@b.c)", ())
    assert render("note[^1]\n\n[^1]: aside") == ("note^1 (aside)", ())


def test_code_in_a_link_keeps_the_link() -> None:
    assert render("[`f()`](https://x.y)") == (
        "f()",
        ({"type": "text_link", "offset": 0, "length": 3, "url": "https://x.y"},),
    )


def test_bold_is_split_around_code_and_quotes_do_not_nest() -> None:
    assert render("**a `b` c**")[1] == (
        {"type": "bold", "offset": 0, "length": 2},
        {"type": "code", "offset": 2, "length": 1},
        {"type": "bold", "offset": 3, "length": 2},
    )
    assert render("> a\n>> b\n> c") == (
        "a\nb\nc",
        ({"type": "blockquote", "offset": 0, "length": 5},),
    )


def test_offsets_count_utf16_units() -> None:
    text, entities = render("😀 <b> **bold**")
    assert text == "😀 <b> bold"
    assert entities == ({"type": "bold", "offset": 7, "length": 4},)


# --- never lose the reply -----------------------------------------------------------------


def test_too_long_a_render_goes_out_as_the_markdown() -> None:
    md = "# t\n\n" + "x" * (LIMIT - 3)
    assert render(md) == (md, ())


def test_a_renderer_failure_sends_the_markdown(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(markdown: str) -> Any:
        raise RuntimeError("renderer bug")

    monkeypatch.setattr(telegramify_markdown, "convert", boom)
    assert render("**hi**") == ("**hi**", ())


def test_an_empty_render_sends_the_markdown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(telegramify_markdown, "convert", lambda md: ("  ", []))
    assert render("**hi**") == ("**hi**", ())
    assert telegramify_markdown.utf16_len("😀") == utf16_len("😀") == 2


# --- the property: every word shows, on both renderers --------------------------------------

_WORD = st.text(string.ascii_letters + string.digits, min_size=1, max_size=8)


@st.composite
def replies(draw: st.DrawFn) -> tuple[str, list[str]]:
    """Model-like Markdown built from random words, and the words a reader must see."""
    words: list[str] = []

    def word() -> str:
        w = draw(_WORD)
        words.append(w)
        return w

    def url() -> str:
        return f"https://example.com/{word()}"

    def tag(name: str) -> str:
        words.append(name)
        return name

    def inline() -> str:
        kind = draw(st.integers(0, 17))
        if kind == 0:
            return f"*{word()}*"
        if kind == 1:
            return f"**{word()} {word()}**"
        if kind == 2:
            return f"_{word()}_ ~~{word()}~~"
        if kind == 3:
            return f"`{word()} {word()}`"
        if kind == 4:
            return f"[{word()} {word()}]({url()})"
        if kind == 5:
            return f"![{word()}]({url()})"
        if kind == 6:
            return f"<{url()}>"
        if kind == 7:
            return f"<{tag('br')}>{word()}"
        if kind == 8:
            return f"<{tag('div')}>{word()}</div>"
        if kind == 9:
            return f"<{tag('script')}>{word()}</script>"
        if kind == 10:
            return f"<{word()}>"
        if kind == 11:
            return f"{word()} < {word()} > {word()}"
        if kind == 12:
            return f"<!-- {word()} -->"
        if kind == 13:
            return f"\\*{word()}\\* `<{word()}>`"
        return word()

    def line() -> str:
        return " ".join(inline() for _ in range(draw(st.integers(1, 6))))

    def listing(depth: int) -> str:
        ordered = draw(st.booleans())
        items = []
        for n in range(draw(st.integers(1, 4))):
            marker = f"{n + 1}." if ordered else draw(st.sampled_from("-*+"))
            pad = " " * (len(marker) + 1)
            task = draw(st.sampled_from(["", "", "[ ] ", "[x] "]))
            item = f"{marker} {task}{line()}"
            if draw(st.integers(0, 5)) == 0:
                item += f"\n{pad}```\n{pad}{word()} <{word()}>\n{pad}```"
            if depth < 2 and draw(st.integers(0, 2)) == 0:
                item += "\n" + "\n".join(pad + row for row in listing(depth + 1).split("\n"))
            items.append(item)
        return "\n".join(items)

    def table() -> str:
        cols = draw(st.integers(1, 3))
        rows = [[word() for _ in range(cols)]]
        rows += [[inline() for _ in range(cols)] for _ in range(draw(st.integers(1, 3)))]
        body = ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join([body[0], "|" + "---|" * cols, *body[1:]])

    def block() -> str:
        kind = draw(st.integers(0, 10))
        if kind == 0:
            return "#" * draw(st.integers(1, 4)) + " " + line()
        if kind == 1:
            return "\n".join("> " + line() for _ in range(draw(st.integers(1, 3))))
        if kind == 2:
            lang = draw(st.sampled_from(["", "python", "html"]))
            code = "\n".join(
                f"{word()} <{word()}> {word()}" for _ in range(draw(st.integers(1, 3)))
            )
            return f"```{lang}\n{code}\n```"
        if kind == 3:
            return listing(0)
        if kind == 4:
            return table()
        if kind == 5:
            return f"<{tag('div')}>\n{line()}\n</div>"
        if kind == 6:
            return "---"
        if kind == 7:
            quoted = "\n".join(f"> {row}" for row in listing(1).split("\n"))
            return f"{quoted}\n>\n> > {line()}"
        if kind == 8:
            # Citations: one used by a reference link, the others listed only.
            label = draw(_WORD)  # markup, like a URL's key: not shown
            cited = f"[{word()}][{label}] {line()}\n\n[{label}]: {url()}"
            return cited + "".join(f"\n[{word()}]: {url()}" for _ in range(draw(st.integers(0, 2))))
        return "\n".join(line() for _ in range(draw(st.integers(1, 3))))

    blocks = [block() for _ in range(draw(st.integers(1, 6)))]
    return "\n\n".join(blocks), words


# Discord is sent the model's Markdown as it is (Discord renders it), so only Telegram's
# conversion to text + entities can lose words.
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reply=replies())
def test_every_word_is_shown(reply: tuple[str, list[str]]) -> None:
    markdown, words = reply
    text, entities = render(markdown)
    assert set(words) <= shown(text, entities), (set(words) - shown(text, entities), text)
    check_entities(text, entities)
