"""The export's report: summary.json (every count) and summary.md (the same, to read)."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from typing import Any

from bot.dataset.build import MIN_CHARS
from bot.dataset.dedup import NEAR
from bot.dataset.formats import FormatSpec
from bot.dataset.limits import Limits
from bot.dataset.options import ExportOptions
from bot.dataset.tally import Tally

# What each cleaning rule does, as the report explains it.
RULES = {
    "consent": "only people whose root identity has tuning_consent = 1 are read at all",
    "outcomes": "a turn that failed, was blocked, interrupted, undelivered or is still pending"
    " is dropped with its answer; commands and refused input too",
    "superseded": "an answer replaced by a regenerated one is never a training target; it is"
    " the rejected side of a preference pair",
    "ratings": "a thumbs-down answer is never a target: dropped with its turn (Vertex) or kept"
    " with weight 0 as context (OpenAI chat); --min-rating N also needs rating >= N"
    " (unrated = 0) of a target, or of a pair's preferred answer",
    "images": "a turn sent with an image is dropped: the answer is about a picture the text"
    " does not carry",
    "too_short": f"an example with fewer than {MIN_CHARS} characters of turns is dropped",
    "duplicates": "exact: the same text once case, accents and punctuation are folded;"
    f" near: word 3-gram sets with Jaccard similarity >= {NEAR} (MinHash, 60 bins,"
    " 10 bands of 6); the first one seen is kept",
    "redaction": "e-mails, phones, URLs with user:password@, Discord mentions, stored platform"
    " ids, bot tokens, API keys and long random-looking strings become placeholders",
    "language": "the person's chosen language, else the conversation's stopwords (es/en);"
    " 'unknown' when too short to tell",
    "tokens": "estimated as characters / 4, rounded up",
}


def _counts(counter: Counter[str]) -> dict[str, int]:
    """Largest first, then by name: the same counts always read the same."""
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def report(
    tally: Tally,
    options: ExportOptions,
    spec: FormatSpec,
    limits: Limits,
    redactions: Counter[str],
) -> dict[str, Any]:
    """Everything the export counted, as JSON-ready values (no clock: the same export
    gives the same report)."""
    total = tally.examples
    tokens = sum(s.tokens for s in tally.splits.values())
    chosen = dataclasses.asdict(options)
    if options.since is not None:
        chosen["since"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(options.since))
    return {
        "format": spec.name,
        "target": spec.target,
        "method": spec.method,
        "options": chosen,
        "files": {f"{name}.jsonl": dataclasses.asdict(s) for name, s in tally.splits.items()},
        "examples": total,
        "conversations": {
            "read": tally.conversations_read,
            "exported": sum(s.conversations for s in tally.splits.values()),
        },
        "tokens": {
            "total": tokens,
            "mean": round(tokens / total, 1) if total else 0,
            "max": tally.max_tokens,
        },
        "ratings": _counts(tally.ratings),
        "pairs": _counts(tally.pairs),
        "languages": _counts(tally.languages),
        "platforms": _counts(tally.platforms),
        "personas": _counts(tally.personas),
        "dropped": {unit: _counts(c) for unit, c in tally.dropped.items()},
        "kept_as_context": _counts(tally.context),
        "redactions": _counts(redactions),
        "limits": {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in dataclasses.asdict(limits).items()
            if v is not None
        },
        "rules": RULES,
        "warnings": list(tally.warnings),
        "errors": list(tally.errors),
    }


def _table(title: str, counts: dict[str, int]) -> list[str]:
    if not counts:
        return []
    return (
        [f"**{title}**", "", "| | count |", "|---|---:|"]
        + [f"| {name} | {n:,} |" for name, n in counts.items()]
        + [""]
    )


def markdown(s: dict[str, Any]) -> str:
    """The report for a person: what is in the files, what was left out and why."""
    files = s["files"]
    lines = [
        f"# Tuning dataset: {s['format']} ({s['target']}, {s['method']})",
        "",
        f"{s['examples']:,} examples from {s['conversations']['exported']:,} of"
        f" {s['conversations']['read']:,} consenting conversations read;"
        f" about {s['tokens']['total']:,} tokens (characters / 4), {s['tokens']['mean']} per"
        f" example on average, {s['tokens']['max']:,} at most.",
        "",
        "| file | examples | conversations | tokens | bytes |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, f in files.items():
        counts = (f["examples"], f["conversations"], f["tokens"], f["bytes"])
        lines.append(f"| {name} | " + " | ".join(f"{n:,}" for n in counts) + " |")
    lines.append("")
    for title, key in (("Errors", "errors"), ("Warnings", "warnings")):
        if s[key]:
            lines += [f"## {title}", "", *(f"- {m}" for m in s[key]), ""]
    lines += ["## What is in it", ""]
    for title in ("ratings", "pairs", "languages", "platforms", "personas"):
        lines += _table(title.capitalize(), s[title])
    lines += ["## What was left out, and why", ""]
    for unit, counts in s["dropped"].items():
        lines += _table(f"Dropped {unit}", counts)
    lines += _table("Answers kept as context only (weight 0)", s["kept_as_context"])
    lines += _table("Redactions", s["redactions"])
    lines += ["## Rules", "", *(f"- **{k}**: {v}" for k, v in s["rules"].items()), ""]
    lines += ["## Limits checked", ""]
    lines += [f"- {k}: {v}" for k, v in s["limits"].items() if k != "sources"]
    lines += ["", "Sources:", "", *(f"- {url}" for url in s["limits"].get("sources", ())), ""]
    return "\n".join(lines)
