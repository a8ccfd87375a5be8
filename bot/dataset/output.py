"""Where an export's files go: a directory (each file complete or absent), or nowhere."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from bot.dataset.options import DatasetError

JSONL = ("train.jsonl", "validation.jsonl")


class FileSink:
    """Writes into `out` (made if missing). Files are written under a temporary name and
    renamed when the export succeeds: a failed run leaves no half-written dataset, and
    an earlier export in the same directory is replaced whole."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self._files: dict[str, BinaryIO] = {}
        self._done: list[str] = []

    def __enter__(self) -> FileSink:
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            for name in JSONL:
                # Both files always exist, even empty: the summary tells which one to use.
                self._files[name.split(".")[0]] = self._part(name).open("wb")
        except OSError as exc:
            self.__exit__(type(exc), exc, None)
            raise DatasetError(f"cannot write to {self.out}: {exc.strerror or exc}") from None
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for fh in self._files.values():
            fh.close()
        names = [*JSONL, *self._done]
        if exc is None:
            for name in names:
                self._part(name).replace(self.out / name)
        else:
            for name in names:
                self._part(name).unlink(missing_ok=True)

    def _part(self, name: str) -> Path:
        return self.out / f".{name}.part"

    def line(self, side: str, data: bytes) -> None:
        self._files[side].write(data)

    def file(self, name: str, text: str) -> None:
        self._part(name).write_text(text, encoding="utf-8")
        self._done.append(name)


class NullSink:
    """Keeps nothing: a preview counts and shows, and writes no file."""

    def line(self, side: str, data: bytes) -> None:
        pass

    def file(self, name: str, text: str) -> None:
        pass
