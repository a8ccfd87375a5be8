"""evaluation.json and evaluation.md next to the adapter: figures, then answers side by side."""

from __future__ import annotations

import json
from pathlib import Path

from tuning.check import Probe, Verdict


def _cell(text: str, width: int = 160) -> str:
    flat = " ".join(text.split()).replace("|", "\\|")
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _table(title: str, probes: list[Probe], mark: str) -> list[str]:
    lines = [f"## {title}", "", f"| prompt | base | tuned | {mark} |", "|---|---|---|---|"]
    lines += [
        f"| {_cell(p.prompt, 80)} | {_cell(p.base)} | {_cell(p.tuned)} | {'yes' if p.hit else ''} |"
        for p in probes
    ]
    return [*lines, ""]


def write_report(folder: Path, fields: dict[str, object], verdict: Verdict) -> None:
    (folder / "evaluation.json").write_text(
        json.dumps(fields, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    loss = fields["validation_loss"]
    lines = [
        "# tertulia tune: evaluation",
        "",
        f"- adapter: `{fields['adapter']}` ({fields['reason']})",
        f"- steps: {fields['steps']}, {fields['seconds_per_step']} s per step,"
        f" peak memory {fields['peak_rss_mb']} MB",
        f"- training loss, first and last step: {fields['train_loss']}",
        f"- validation loss, before and after: {loss}",
        f"- recall of the taught data: {verdict.recall:.0%};"
        f" leakage into held-out general prompts: {verdict.leakage:.0%}",
        "",
        *_table("Taught prompts (recall)", verdict.taught, "recalled"),
        *_table("Held-out general prompts (leakage)", verdict.general, "leaked"),
    ]
    (folder / "evaluation.md").write_text("\n".join(lines), encoding="utf-8")
