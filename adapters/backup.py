"""`tertulia backup PATH` and `tertulia restore PATH`: a consistent copy of the database, and back."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.ports import StorageError

if TYPE_CHECKING:
    from config.settings import Settings

USAGE_ERROR = 2  # bad input (a missing database or directory, not a backup): one line
FAILED = 1  # could not be done now (the database in use, a copy that failed its check, I/O)

EXIT_STATUS = (
    "exit status: 0 done; 1 not done now (in use, a failed check, a full disk), nothing"
    " changed; 2 bad input (one line says what), nothing changed"
)


def add_parsers(sub: Any) -> None:
    """`backup PATH [--force]` and `restore PATH` under the CLI's subcommands."""
    backup = sub.add_parser(
        "backup",
        help="write a consistent copy of the database (safe while the bot runs)",
        description="Copy TERTULIA_DB to PATH as one snapshot (SQLite's VACUUM INTO), readable"
        " by you only, checked before it takes its name. Processes keep writing meanwhile.",
        epilog=EXIT_STATUS,
    )
    backup.add_argument("path", metavar="PATH", help="the file to write")
    backup.add_argument("--force", action="store_true", help="replace PATH if it exists")
    restore = sub.add_parser(
        "restore",
        help="put a backup in place of the database (stop the bot first)",
        description="Check PATH (integrity, a tertulia schema this version knows), keep the"
        " current TERTULIA_DB as <db>.before-restore-<time>, and put a copy of PATH in its place."
        " Refused while any process has the database open.",
        epilog=EXIT_STATUS,
    )
    restore.add_argument("path", metavar="PATH", help="a file `tertulia backup` wrote")


def _mib(size: int) -> str:
    return f"{size / 2**20:,.1f} MiB"


def _backup(db: Path, target: Path, force: bool) -> str:
    from storage.sqlite import maintenance

    if not db.is_file():
        raise maintenance.NotUsable(f"TERTULIA_DB: {db}: no such database")
    done = maintenance.backup(db, target, force=force)
    return f"backup: {done.path}, {_mib(done.size)}, {done.seconds:.1f} s (integrity ok)"


def _restore(db: Path, source: Path) -> str:
    from storage.sqlite import maintenance

    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    kept = maintenance.restore(source, db, stamp=stamp)
    line = f"restored {source} into {db} ({_mib(db.stat().st_size)})"
    return line + (f"; the previous database is kept as {kept}" if kept else "")


def main(args: argparse.Namespace, settings: Settings) -> int:
    """`tertulia backup` / `tertulia restore`: 0 done, 1 not done now, 2 bad input."""
    from storage.sqlite.maintenance import NotUsable

    path = Path(args.path)
    try:
        if args.command == "backup":
            line = _backup(settings.db, path, args.force)
        else:
            line = _restore(settings.db, path)
    except NotUsable as exc:
        print(f"tertulia: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except (StorageError, OSError) as exc:
        print(f"tertulia: {args.command} not done: {exc}", file=sys.stderr)
        return FAILED
    print(line)
    return 0
