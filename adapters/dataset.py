"""Tuning-dataset export: a library call for the dashboard, and `tertulia dataset export`."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.dataset.options import FORMATS, DatasetError, ExportOptions
from bot.types import Persona

# The pipeline and the reader are imported when an export runs: every `tertulia`
# command builds this parser, and most never export.
if TYPE_CHECKING:
    from bot.dataset.output import FileSink, NullSink
    from config.settings import Settings
    from storage.sqlite.dataset import DatasetReader

__all__ = ["FORMATS", "DatasetError", "ExportOptions", "export_dataset", "preview_dataset"]

USAGE_ERROR = 2  # a bad option: nothing written
REFUSED = 1  # written, but the target would refuse it (the summary's errors say why)


def _export(
    reader: DatasetReader,
    options: ExportOptions,
    personas: Mapping[str, Persona],
    default_persona: str,
    sink: FileSink | NullSink,
    preview: int,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from bot.dataset.export import export

    conversations = reader.conversations(
        platform=options.platform,
        persona=options.persona,
        personas=personas.keys(),
        default_persona=default_persona,
        language=options.language,
        since=options.since,
    )
    return export(
        conversations,
        options,
        personas=personas,
        default_persona=default_persona,
        platform_ids=reader.platform_ids(),
        sink=sink,
        preview=preview,
    )


def export_dataset(
    db: Path,
    out: Path,
    options: ExportOptions,
    personas: Mapping[str, Persona],
    default_persona: str = "assistant",
) -> dict[str, Any]:
    """Write train.jsonl, validation.jsonl, summary.json, summary.md and tuning.toml into
    `out` from the consenting people's conversations in `db`; the summary.

    Raises DatasetError (bad options, unwritable `out`) or bot.ports.StorageError (no
    such database, or one too old). The database is opened read-only.
    """
    from bot.dataset.export import check_personas
    from bot.dataset.output import FileSink
    from storage.sqlite.dataset import DatasetReader

    # Options and the database first: a bad one leaves no empty output directory behind.
    check_personas(options, personas, default_persona)
    with DatasetReader(db) as reader, FileSink(out) as sink:
        summary, _ = _export(reader, options, personas, default_persona, sink, 0)
    return summary


def preview_dataset(
    db: Path,
    options: ExportOptions,
    personas: Mapping[str, Persona],
    default_persona: str = "assistant",
    n: int = 5,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The first `n` cleaned examples in the chosen format and the export's summary, as
    export_dataset would write them; writes nothing."""
    from bot.dataset.output import NullSink
    from storage.sqlite.dataset import DatasetReader

    with DatasetReader(db) as reader:
        summary, shown = _export(reader, options, personas, default_persona, NullSink(), n)
    return shown, summary


# -- the CLI: `tertulia dataset export` ---------------------------------------------------


def add_parser(sub: Any) -> None:
    """`dataset export ...` under the CLI's subcommands. Values are checked here, not by
    argparse, so a bad one is reported in one line."""
    dataset = sub.add_parser("dataset", help="export a tuning dataset (consenting people only)")
    actions = dataset.add_subparsers(dest="dataset_command", metavar="ACTION")
    ex = actions.add_parser(
        "export",
        help="write train/validation JSONL, a summary and tuning.toml",
        epilog="exit status: 0 written; 1 written, but the target would refuse it (see the"
        " summary's errors); 2 a bad option, nothing written",
    )
    ex.add_argument("--format", metavar="FORMAT", help=f"one of {', '.join(FORMATS)}")
    ex.add_argument("--out", metavar="DIR", help="directory to write into (made if missing)")
    ex.add_argument(
        "--min-rating", metavar="N", help="-1, 0 or 1: the least rating of a training answer"
    )
    ex.add_argument(
        "--since", metavar="YYYY-MM-DD", help="only turns written that day (UTC) or later"
    )
    ex.add_argument("--platform", metavar="NAME", help="only this platform (telegram, discord)")
    ex.add_argument("--persona", metavar="NAME", help="only people using this persona")
    ex.add_argument("--language", metavar="LANG", help="es or en")
    ex.add_argument("--seed", metavar="N", default="0", help="the split's seed (default 0)")
    ex.add_argument(
        "--validation", metavar="SHARE", default="0.1", help="share in validation (default 0.1)"
    )


def _number(name: str, text: str | None, kind: type[int] | type[float]) -> Any:
    if text is None:
        return None
    try:
        return kind(text)
    except ValueError:
        raise DatasetError(f"--{name} must be a number, not {text!r}") from None


def options_from(args: argparse.Namespace) -> ExportOptions:
    """The options the command line asks for; DatasetError names a bad one."""
    if args.dataset_command != "export":
        raise DatasetError("usage: tertulia dataset export --format FORMAT --out DIR [...]")
    if not args.format:
        raise DatasetError(f"--format is required: one of {', '.join(FORMATS)}")
    if not args.out:
        raise DatasetError("--out is required: the directory to write into")
    since = None
    if args.since is not None:
        try:
            day = dt.datetime.strptime(args.since, "%Y-%m-%d").replace(tzinfo=dt.UTC)
        except ValueError:
            raise DatasetError(
                f"--since must be a date as YYYY-MM-DD, not {args.since!r}"
            ) from None
        since = day.timestamp()
    return ExportOptions(
        format=args.format,
        min_rating=_number("min-rating", args.min_rating, int),
        since=since,
        platform=args.platform,
        persona=args.persona,
        language=args.language,
        seed=_number("seed", args.seed, int),
        validation=_number("validation", args.validation, float),
    )


def describe(summary: Mapping[str, Any], out: Path) -> str:
    """A few lines for the operator: what was written, what was left out, what to fix."""
    files = summary["files"]
    lines = [
        f"{summary['format']}: {files['train.jsonl']['examples']:,} training and"
        f" {files['validation.jsonl']['examples']:,} validation examples from"
        f" {summary['conversations']['exported']:,} conversations"
        f" (~{summary['tokens']['total']:,} tokens) in {out}",
    ]
    dropped = {
        f"{reason} ({unit})": n
        for unit, counts in summary["dropped"].items()
        for reason, n in counts.items()
    }
    if dropped:
        lines.append("left out: " + ", ".join(f"{k} {v:,}" for k, v in dropped.items()))
    if summary["redactions"]:
        lines.append(
            "redacted: " + ", ".join(f"{k} {v:,}" for k, v in summary["redactions"].items())
        )
    lines += [f"warning: {w}" for w in summary["warnings"]]
    lines += [f"error: {e}" for e in summary["errors"]]
    lines.append(f"details: {out / 'summary.md'}")
    return "\n".join(lines)


def main(args: argparse.Namespace, settings: Settings) -> int:
    """`tertulia dataset export`: 0 written, 1 written with errors the target would refuse,
    2 a bad option (one line on stderr, nothing written)."""
    from adapters.runtime import personas

    try:
        options = options_from(args)
        out = Path(args.out)
        summary = export_dataset(settings.db, out, options, personas(), settings.default_persona)
    except DatasetError as exc:
        print(f"tertulia: {exc}", file=sys.stderr)
        return USAGE_ERROR
    print(describe(summary, out))
    return REFUSED if summary["errors"] else 0
