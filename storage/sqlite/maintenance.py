"""Operating the SQLite file: consistent backups, restores, and the figures of `tertulia status`.

They run in a `tertulia` command of their own, with the standard library's sqlite3: one
short-lived connection at a time, no event loop, never a store's connections.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.ports import StorageError
from storage.sqlite.migrations import MIGRATIONS
from storage.sqlite.processes import Process, has_table, running

KNOWN = [name for name, _ in MIGRATIONS]


class NotUsable(StorageError):
    """A path or file that cannot be used as asked (missing, not a tertulia database, too
    new); nothing was changed."""


class InUse(StorageError):
    """Other processes have the database open; nothing was changed."""


# -- files --------------------------------------------------------------------------------


@contextlib.contextmanager
def reading(path: Path, *, immutable: bool = False) -> Iterator[sqlite3.Connection]:
    """A read-only connection to an existing database file (never creates one).

    `immutable`: for a file nobody writes (a backup): no locks, and no -wal or -shm made.
    """
    if not path.is_file():
        raise NotUsable(f"{path}: no such database")
    uri = f"{path.resolve().as_uri()}?mode=ro" + ("&immutable=1" if immutable else "")
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=10, isolation_level=None)
    except sqlite3.Error as exc:
        raise NotUsable(f"{path}: cannot open it ({exc})") from None
    try:
        yield conn
    finally:
        conn.close()


def migrations(conn: sqlite3.Connection, path: Path) -> list[str]:
    """The steps recorded in the file; NotUsable if it is no tertulia database or too new."""
    try:
        if not has_table(conn, "schema_migrations"):
            raise NotUsable(f"{path}: not a tertulia database (no schema_migrations table)")
        names = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]
    except sqlite3.DatabaseError as exc:
        raise NotUsable(f"{path}: not a usable SQLite database ({exc})") from None
    newer = [n for n in names if n not in KNOWN]
    if newer:
        raise NotUsable(
            f"{path}: written by a newer tertulia (schema step {newer[0]}); upgrade tertulia first"
        )
    return names


def integrity(conn: sqlite3.Connection, path: Path) -> None:
    """NotUsable unless SQLite's integrity_check finds nothing wrong."""
    try:
        rows = [r[0] for r in conn.execute("PRAGMA integrity_check(5)")]
    except sqlite3.DatabaseError as exc:
        raise NotUsable(f"{path}: not a usable SQLite database ({exc})") from None
    if rows != ["ok"]:
        # One line: integrity_check's own messages may span several.
        found = " ".join(" ".join(rows).split())
        raise NotUsable(f"{path}: damaged ({found[:300]})")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _private_temp(target: Path, what: str) -> Path:
    """An empty file next to `target`, readable by its owner only, that no one else made."""
    tmp = target.with_name(f".{target.name}.{what}-{os.getpid()}")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    os.chmod(tmp, 0o600)  # whatever the umask
    return tmp


def _publish(tmp: Path, target: Path, *, replace: bool) -> None:
    """Give the finished `tmp` its name atomically, and make the rename durable."""
    _fsync(tmp)
    if replace:
        os.replace(tmp, target)
    else:
        try:
            os.link(tmp, target)  # unlike a rename, never replaces a file made meanwhile
        except FileExistsError:
            raise NotUsable(f"{target} exists; --force replaces it") from None
        tmp.unlink()
    _fsync(target.parent)


# -- backup and restore -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Backup:
    path: Path
    size: int
    seconds: float
    migrations: list[str]


def _target(target: Path) -> None:
    if not target.parent.is_dir():
        raise NotUsable(f"{target.parent}: no such directory")
    if target.is_dir():
        raise NotUsable(f"{target} is a directory: name the file to write")


def backup(db: Path, target: Path, *, force: bool = False) -> Backup:
    """Write a consistent, compacted copy of `db` to `target` while processes use it.

    VACUUM INTO reads one snapshot (one read transaction: writers go on meanwhile, in WAL
    mode) and writes only live rows into a fresh file: no free page of erased data comes
    along. The copy is checked (integrity_check, the same schema steps) before it takes
    its name; NotUsable for a bad path or database, StorageError if the copy failed.
    """
    started = time.monotonic()
    if not db.is_file():
        raise NotUsable(f"{db}: no such database")
    _target(target)
    if target.exists() and not force:
        raise NotUsable(f"{target} exists; --force replaces it")
    if target.exists() and db.samefile(target):
        raise NotUsable(f"{target} is the live database")
    with reading(db) as src:
        steps = migrations(src, db)
        # Made empty and private first: VACUUM INTO fills an empty file, keeping its mode.
        tmp = _private_temp(target, "backup")
        try:
            try:
                src.execute("VACUUM INTO ?", (str(tmp),))
            except sqlite3.Error as exc:
                raise StorageError(f"backup of {db} failed: {exc}") from None
            with reading(tmp, immutable=True) as copy:
                integrity(copy, tmp)
                if migrations(copy, tmp) != steps:
                    raise StorageError(f"backup of {db} failed: its schema steps differ")
            _publish(tmp, target, replace=force)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return Backup(target, target.stat().st_size, time.monotonic() - started, steps)


def check_backup(path: Path) -> list[str]:
    """The schema steps of a backup file fit to restore; NotUsable says what is wrong."""
    wal = path.with_name(path.name + "-wal")
    if wal.is_file() and wal.stat().st_size:
        raise NotUsable(f"{path}: a write-ahead log lies beside it (in use, or not closed)")
    with reading(path, immutable=True) as conn:
        integrity(conn, path)
        return migrations(conn, path)


def _take_over(db: Path) -> None:
    """Check that no other process has `db` open, and leave it one self-contained file.

    Leaving WAL mode needs the only connection to the file: any process with it open holds
    a shared lock, so SQLite refuses at once (timeout 0). It also copies the WAL in.
    """
    try:
        conn = sqlite3.connect(db, timeout=0, isolation_level=None)
    except sqlite3.Error:
        return  # not a database at all: nobody can be using it
    try:
        conn.execute("PRAGMA journal_mode = DELETE")
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc) and "busy" not in str(exc):
            return  # damaged: nobody can be using it either (the restore's usual reason)
        names = []
        with contextlib.suppress(StorageError, sqlite3.Error), reading(db) as ro:
            names = [f"{p.platform} (pid {p.pid} on {p.host})" for p in running(ro, time.time())]
        who = ", ".join(names) or "another process"
        raise InUse(f"{db} is in use by {who}: stop tertulia first") from None
    except sqlite3.DatabaseError:
        return
    finally:
        conn.close()


def restore(backup_file: Path, db: Path, *, stamp: str) -> Path | None:
    """Put a checked backup in place of `db`, keeping `db` as `<db>.before-restore-<stamp>`
    (returned; None when there was no database). InUse while a process has `db` open."""
    check_backup(backup_file)
    if not db.parent.is_dir():
        db.parent.mkdir(parents=True)
    if db.exists() and db.samefile(backup_file):
        raise NotUsable(f"{backup_file} is the live database")
    kept = db.with_name(f"{db.name}.before-restore-{stamp}")
    if kept.exists():
        raise NotUsable(f"{kept} exists: try again in a second")
    # The copy first: once the database is taken over only renames are left, and a full
    # disk leaves the database as it was.
    tmp = _private_temp(db, "restore")
    moved = False
    try:
        with backup_file.open("rb") as src, tmp.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        _fsync(tmp)
        if db.exists():
            _take_over(db)
            os.rename(db, kept)
            moved = True
        # A -wal or -journal left by the old file would be read as the new one's.
        for suffix in ("-wal", "-shm", "-journal"):
            db.with_name(db.name + suffix).unlink(missing_ok=True)
        _publish(tmp, db, replace=True)
    except BaseException:
        tmp.unlink(missing_ok=True)
        if moved and not db.exists():
            os.rename(kept, db)
        raise
    return kept if moved else None


# -- status -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Status:
    """What `tertulia status` shows about the file."""

    path: Path
    size: int
    wal_size: int
    people: int
    identities: int
    conversations: int
    messages: int
    last_activity: float | None
    migrations: list[str]
    processes: list[Process]


# Linked identities share one person: the root row, whose person_id is NULL. The newest
# message is the last entry of the messages_dashboard index (created_at first).
STATUS_SQL = (
    "SELECT (SELECT count(*) FROM users WHERE person_id IS NULL), (SELECT count(*) FROM users),"
    " (SELECT count(*) FROM conversations), (SELECT count(*) FROM messages),"
    " (SELECT max(created_at) FROM messages)"
)


def status(db: Path, now: float | None = None) -> Status:
    """Figures read from a read-only connection: counts, last activity, schema, processes."""
    wal = db.with_name(db.name + "-wal")
    with reading(db) as conn:
        steps = migrations(conn, db)
        try:
            people, identities, conversations, messages, last = conn.execute(STATUS_SQL).fetchone()
            found = running(conn, time.time() if now is None else now)
        except sqlite3.DatabaseError as exc:
            raise NotUsable(
                f"{db}: cannot read it ({exc}); start tertulia once to upgrade it"
            ) from None
    return Status(
        db,
        db.stat().st_size,
        wal.stat().st_size if wal.exists() else 0,
        people,
        identities,
        conversations,
        messages,
        last,
        steps,
        found,
    )
