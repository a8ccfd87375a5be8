"""Model Markdown as Telegram text + entities (telegramify-markdown), never dropping a word."""

from __future__ import annotations

import bisect
import itertools
import logging
import re
from typing import Any

import pyromark
import telegramify_markdown
from telegramify_markdown.config import get_runtime_config
from telegramify_markdown.converter import STANDARD_OPTIONS

log = logging.getLogger(__name__)

LIMIT = 4096  # Telegram's message limit, in UTF-16 code units

Entity = dict[str, Any]
Rendered = tuple[str, tuple[Entity, ...]]

# What may follow a `<` that stays: an autolink, or a spoiler tag not alone on its line
# (alone, CommonMark reads it as an HTML block).
_KEPT_ANGLE = re.compile(
    r"(?:[A-Za-z][A-Za-z0-9+.\-]{1,31}:[^\s<>]*"
    r"|[A-Za-z0-9.!#$%&'*+/=?^_`{|}~\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*)>"
    r"|/?tg-spoiler>(?![ \t]*(?:\n|$))"
)
_MARKS = tuple(map(chr, range(0xE000, 0xF900)))
# Markdown the converter loses text on unless it is rewritten first: a table (links and
# images in cells lose their URL, cells past the header's count vanish), a link or image
# with empty text, a task marker in an ordered list (eats the number), a reference
# definition (vanishes when no link uses it). Each pattern runs only if a substring it
# needs is there, and the Markdown is parsed twice only where one matches.
_TABLE = re.compile(r"^[ \t>]*(?:\|[ \t]*:?-+:?|:?-+:?[ \t]*\|)", re.MULTILINE)
_PIPE = re.compile(r"(?<!\\)\|")
_BLANK_LINE = re.compile(r"\n[ \t>]*(?:\n|$)")
_FENCE = re.compile(r"^[ \t>]*(`{3,}|~{3,})([^\n]*)", re.MULTILINE)
_TABLE_HINTS = ("-|", "|-", "- |", "| -", ":|", "|:", ": |", "| :")
_TASK = re.compile(r"^[ \t>]*\d{1,9}[.)][ \t]+\[[ xX]\]", re.MULTILINE)
_REFERENCE = re.compile(r"^[ \t>]*\[[^\]\n]+\]:", re.MULTILINE)
_DEFINITION = re.compile(rb"^[ \t>]*(\[)([^\]\n]+)\]:", re.MULTILINE)
# What a URL needs escaped to read as plain text in a cell or in link text.
_URL_MARKUP = re.compile(rb"([\\`*_\[\]!&~$|<>])")
_UNESCAPED_PIPE = re.compile(rb"(?<!\\)\|")
# What Telegram takes as a text_link; anything else it may refuse with a 400.
_ABSOLUTE = re.compile(r"(?:https?|ftp|tg|ton|tonsite)://[^\s]+", re.IGNORECASE)
_BREAKS = ("\n".encode("utf-16-le"), " ".encode("utf-16-le"))
# A leaf block's range covers its text: a line starting "[x]:" outside them is a definition.
_LEAVES = frozenset(("Paragraph", "Heading", "CodeBlock", "TableHead", "TableRow", "HtmlBlock"))

# Entity classes as bits, for the Bot API's nesting rules.
_CODE, _QUOTE, _LINK = 1, 2, 4  # _LINK: text_link, custom_emoji and the like
_SPLIT = {"bold": 8, "italic": 16, "underline": 32, "strikethrough": 64, "spoiler": 128}
_BITS = {"pre": _CODE, "code": _CODE, "blockquote": _QUOTE, "expandable_blockquote": _QUOTE}
_BITS.update(_SPLIT)
_ANY_SPLIT = sum(_SPLIT.values())
# At equal ranges the first kept wins: a link before code keeps the URL, and a
# blockquote before pre lets the quote contain the block.
_ORDER = {"blockquote": 0, "expandable_blockquote": 0, "text_link": 1, "pre": 2, "code": 3}


def utf16_len(text: str) -> int:
    return telegramify_markdown.utf16_len(text)


def plain(markdown: str) -> Rendered:
    """The Markdown as it is, with no entities: the fallback, and what Discord is sent."""
    return markdown, ()


def render(markdown: str) -> Rendered:
    """Model Markdown as text + entities; the Markdown itself when rendering fails or grows."""
    try:
        text, entities = _render(markdown)
    except Exception:  # a renderer bug must never cost the user the reply
        log.warning("markdown rendering failed; sending plain text", exc_info=True)
        return plain(markdown)
    if not text.strip() or utf16_len(text) > LIMIT:
        return plain(markdown)
    return text, entities


def _render(markdown: str) -> Rendered:
    source, mark = _protect(markdown)
    if _needs_rewrite(source):
        source = _rewrite(source)
    elif "|" in source and any(h in source for h in _TABLE_HINTS):
        source = _rewrite_tables(source)
    text, converted = telegramify_markdown.convert(source)
    entities = [e.to_dict() for e in converted]
    if mark:
        text = text.replace(mark, "<")
        for e in entities:
            for key in ("url", "language"):
                if key in e:
                    e[key] = e[key].replace(mark, "<")
    text, entities = _mend(text, entities)
    return text, _valid(entities, utf16_len(text))


def _protect(markdown: str) -> tuple[str, str]:
    """Hide each `<` that would start HTML; return the text and the mark used ("" if none).

    The converter drops every HTML tag, comment and block it parses (and an HTML block
    runs to the next blank line), so such a `<` goes in as a private-use character of the
    same UTF-16 length and comes back out: the text shows it and no offset moves. An
    escaped `<`, an autolink and a `[a](<url>)` destination stay as they are.
    """
    if "<" not in markdown:
        return markdown, ""
    mark = next(c for c in _MARKS if c not in markdown)
    pieces = markdown.split("<")
    out = [pieces[0]]
    for before, after in itertools.pairwise(pieces):
        escaped = (len(before) - len(before.rstrip("\\"))) % 2 == 1
        keep = escaped or before.endswith("](") or _KEPT_ANGLE.match(after)
        out += ("<" if keep else mark, after)
    return "".join(out), mark


def _needs_rewrite(source: str) -> bool:
    """Whether the whole document must be parsed first (tables alone: _rewrite_tables)."""
    return bool(
        "[](" in source
        or (("[ ]" in source or "[x]" in source or "[X]" in source) and _TASK.search(source))
        or ("]:" in source and _REFERENCE.search(source))
    )


def _rewrite_tables(source: str) -> str:
    """Rewrite the tables that need it, parsing each table alone, not the whole page."""
    out: list[str] = []
    last = 0
    fences = _FENCE.finditer(source)
    fence: tuple[str, int] | None = None  # the fenced code block open where we are
    upcoming = next(fences, None)
    for m in _TABLE.finditer(source):
        row = m.start()
        head = source.rfind("\n", 0, max(row - 1, 0)) + 1  # the header is the line above
        if row == 0 or head < last:
            continue
        while upcoming is not None and upcoming.start() < head:
            fence = _after_fence_line(fence, upcoming)
            upcoming = next(fences, None)
        if fence is not None:
            continue  # table-like lines in a code block
        blank = _BLANK_LINE.search(source, row)
        end = blank.start() if blank else len(source)
        table = source[head:end]
        if "][" in table:
            return _rewrite(source)  # a reference link: its definition may be anywhere
        lines = table.split("\n")
        cells = len(_PIPE.findall(lines[0]))
        if "](" in table or any(len(_PIPE.findall(line)) > cells for line in lines[2:]):
            out += (source[last:head], _rewrite(table))
            last = end
    if not out:
        return source
    out.append(source[last:])
    return "".join(out)


def _after_fence_line(fence: tuple[str, int] | None, m: re.Match[str]) -> tuple[str, int] | None:
    """The open fence after a line that looks like a fence (CommonMark's rules, roughly)."""
    marks, info = m[1], m[2]
    if fence is None:
        return None if marks[0] == "`" and "`" in info else (marks[0], len(marks))
    if marks[0] == fence[0] and len(marks) >= fence[1] and not info.strip():
        return None
    return fence


def _escape_url(url: str) -> bytes:
    return _URL_MARKUP.sub(rb"\\\1", url.encode())


def _rewrite(source: str) -> str:
    """Rewrite the Markdown the converter would lose text from (see _TABLE and below)."""
    data = source.encode()
    edits: list[tuple[int, int, bytes]] = []  # UTF-8 byte ranges of `data` and their new text
    symbols = get_runtime_config().markdown_symbol
    ordered: list[bool] = []
    links: list[list[Any]] = []  # open links: [start, url, type, inner start, inner end]
    leaves: list[tuple[int, int]] = []
    used: set[str] = set()
    tables = cell_end = 0
    for event, span in pyromark.events_with_range(source, options=STANDARD_OPTIONS):
        payload: Any = event
        start, end = span["start"], span["end"]
        if not isinstance(payload, dict):
            continue
        if "Text" in payload:
            leaves.append((start, end))
        if links and payload.get("End") not in ("Link", "Image"):
            for link in links:  # anything inside a link is its text
                link[3] = start if link[3] is None else link[3]
                link[4] = max(link[4], end)
        if "TaskListMarker" in payload and ordered and ordered[-1]:
            mark = symbols.task_completed if payload["TaskListMarker"] else symbols.task_uncompleted
            edits.append((start, end, mark.encode()))
        tag = payload.get("Start")
        if tag is not None:
            name = tag if isinstance(tag, str) else next(iter(tag))
            if name in _LEAVES:
                leaves.append((start, end))
            if name == "List":
                ordered.append(tag["List"] is not None)
            elif name == "Table":
                tables += 1
            elif name in ("TableHead", "TableRow"):
                cell_end = start
            elif name in ("Link", "Image"):
                link_id = tag[name]["id"]
                if link_id:
                    used.add(" ".join(link_id.lower().split()))
                links.append([start, tag[name]["dest_url"], tag[name]["link_type"], None, 0])
            continue
        tag = payload.get("End")
        if tag is None:
            continue
        name = tag if isinstance(tag, str) else next(iter(tag))
        if name == "List":
            ordered.pop()
        elif name == "Table":
            tables -= 1
        elif name == "TableCell" and start < end:
            cell_end = end
        elif name == "TableRow":
            edits.extend(_excess_cells(data, cell_end, end))
        elif name in ("Link", "Image"):
            link_start, url, kind, inner_start, inner_end = links.pop()
            if links or kind in ("Autolink", "Email") or not url:
                continue
            offset = 2 if name == "Image" else 1
            if tables:
                # A table renders as `pre`, which cannot hold a link: show the URL as text.
                text = data[inner_start:inner_end] if inner_start is not None else b""
                shown = _escape_url(url) if not text else text + b" (" + _escape_url(url) + b")"
                edits.append((link_start, end, shown))
            elif (
                inner_start is None and data[link_start + offset : link_start + offset + 1] == b"]"
            ):
                edits.append((link_start + offset, link_start + offset, _escape_url(url)))
    edits.extend(_unused_definitions(data, leaves, used))
    if not edits:
        return source
    edits.sort()
    out: list[bytes] = []
    last = 0
    for start, end, new in edits:
        if start < last:
            continue  # an edit inside one already made
        out += (data[last:start], new)
        last = end
    out.append(data[last:])
    return b"".join(out).decode()


def _excess_cells(data: bytes, cell_end: int, row_end: int) -> list[tuple[int, int, bytes]]:
    """Escape the pipes after a row's last cell, so its extra cells join that cell."""
    rest = data[cell_end:row_end].rstrip()
    if rest.endswith(b"|") and not rest.endswith(b"\\|"):
        rest = rest[:-1]
    if not rest.strip(b"| \t"):
        return []
    return [(cell_end, cell_end + len(rest), _UNESCAPED_PIPE.sub(rb"\\|", rest))]


def _unused_definitions(
    data: bytes, leaves: list[tuple[int, int]], used: set[str]
) -> list[tuple[int, int, bytes]]:
    """Escape reference definitions no link uses (CommonMark shows them nowhere)."""
    edits: list[tuple[int, int, bytes]] = []
    leaves.sort()
    starts = [start for start, _ in leaves]
    reach = list(itertools.accumulate((end for _, end in leaves), max))
    for m in _DEFINITION.finditer(data):
        at = m.start(1)
        i = bisect.bisect_right(starts, at) - 1
        if i >= 0 and reach[i] > at:
            continue  # text of a paragraph, a code block, ...: not a definition
        label = " ".join(m[2].decode().lower().split())
        if label in used:
            used.discard(label)  # the first definition wins; a repeat shows nowhere either
        else:
            edits.append((at, at, b"\\"))
    return edits


def _mend(text: str, entities: list[Entity]) -> tuple[str, list[Entity]]:
    """Show a URL Telegram would refuse as text, and put code blocks on lines of their own."""
    inserts: list[tuple[int, str]] = []
    units = b""
    for e in entities:
        kind, start = e["type"], e["offset"]
        end = start + e["length"]
        if kind not in ("text_link", "pre"):
            continue
        units = units or text.encode("utf-16-le", "surrogatepass")
        if kind == "text_link" and not _ABSOLUTE.fullmatch(e["url"]):
            url = e.pop("url")
            e["type"] = ""  # dropped by _valid
            if url not in units[2 * start : 2 * end].decode("utf-16-le", "surrogatepass"):
                inserts.append((end, f" ({url})"))
        elif kind == "pre":
            # In a tight list item the converter glues a fenced block to the item's text.
            if start > 0 and units[2 * start - 2 : 2 * start] not in _BREAKS:
                inserts.append((start, "\n"))
            if 2 * end < len(units) and units[2 * end : 2 * end + 2] not in _BREAKS:
                inserts.append((end, "\n"))
    if not inserts:
        return text, entities
    inserts.sort(key=lambda i: i[0])
    pieces: list[bytes] = []
    last = 0
    for at, new in inserts:
        pieces += (units[2 * last : 2 * at], new.encode("utf-16-le"))
        last = at
    pieces.append(units[2 * last :])
    at_units = [at for at, _ in inserts]
    grown = [0]
    for _, new in inserts:
        grown.append(grown[-1] + utf16_len(new))
    for e in entities:
        start, end = e["offset"], e["offset"] + e["length"]
        # Text inserted where an entity starts goes before it; where it ends, after it.
        e["offset"] = start + grown[bisect.bisect_right(at_units, start)]
        e["length"] = end + grown[bisect.bisect_left(at_units, end)] - e["offset"]
    return b"".join(pieces).decode("utf-16-le", "surrogatepass"), entities


def _valid(entities: list[Entity], total: int) -> tuple[Entity, ...]:
    """Entities as the Bot API allows them: nested, never crossing, nothing inside code.

    Blockquotes don't nest, links and code don't contain each other (the link stays, with
    its URL), and bold/italic/... are split around code, as Telegram would split them.
    """
    items = [
        (e["offset"], -e["length"], _ORDER.get(e["type"], 9), i)
        for i, e in enumerate(entities)
        if e["type"] and e["length"] > 0 and e["offset"] >= 0 and e["offset"] + e["length"] <= total
    ]
    items.sort()
    if all(a[0] - a[1] <= b[0] for a, b in itertools.pairwise(items)):
        return tuple(entities[i] for *_, i in items)  # none nests: the common reply
    kept: list[Entity] = []
    holes: dict[int, list[tuple[int, int]]] = {}  # index in kept -> code ranges inside it
    stack: list[tuple[int, int, int]] = []  # open kept entities: end, bits so far, index
    for start, minus_length, _, i in items:
        e, end = entities[i], start - minus_length
        bit = _BITS.get(e["type"], _LINK)
        while stack and stack[-1][0] <= start:
            stack.pop()
        above = stack[-1][1] if stack else 0
        if stack and end > stack[-1][0]:
            continue  # crosses an entity already kept
        if above & _CODE or above & bit & (_ANY_SPLIT | _QUOTE):
            continue  # inside code, bold in bold, a quote in a quote
        if bit & (_CODE | _LINK) and above & (_CODE | _LINK):
            continue  # a link holds no other link, nor code
        if bit == _CODE and above & _ANY_SPLIT:
            for _, bits, j in stack:
                if bits & _ANY_SPLIT:
                    holes.setdefault(j, []).append((start, end))
        stack.append((end, above | bit, len(kept)))
        kept.append(e)
    if holes:
        kept = [piece for j, e in enumerate(kept) for piece in _split(e, holes.get(j, []))]
        kept.sort(key=lambda e: (e["offset"], -e["length"]))
    return tuple(kept)


def _split(e: Entity, holes: list[tuple[int, int]]) -> list[Entity]:
    if not holes:
        return [e]
    pieces, at = [], e["offset"]
    for start, end in [*holes, (e["offset"] + e["length"],) * 2]:
        if start > at:
            pieces.append({**e, "offset": at, "length": start - at})
        at = max(at, end)
    return pieces
