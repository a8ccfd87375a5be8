"""The train/validation split: by conversation, from a seeded hash, within each file's limits."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

from bot.dataset.limits import Limits
from bot.dataset.records import Example
from bot.dataset.tally import Tally


class Sink(Protocol):
    """Where the export's files go: lines of the two JSONL files, then whole text files."""

    def line(self, side: str, data: bytes) -> None: ...

    def file(self, name: str, text: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Rendered:
    """An example ready to write: its record, its JSONL line and its estimated tokens."""

    example: Example
    data: bytes
    tokens: int


def side(conversation: int, seed: int, share: float) -> str:
    """ "validation" for about `share` of conversations, else "train".

    A hash of the seed and the conversation's id, not a shuffle: the same seed gives the
    same split, and a conversation keeps its side when the database grows.
    """
    digest = hashlib.blake2b(f"{seed}:{conversation}".encode(), digest_size=8).digest()
    return "validation" if int.from_bytes(digest, "big") < share * 2**64 else "train"


class Splitter:
    """Writes each conversation's examples to one file, never both, within the limits."""

    def __init__(self, limits: Limits, seed: int, share: float, sink: Sink, tally: Tally):
        self.limits, self.seed, self.share = limits, seed, share
        self.sink, self.tally = sink, tally
        self.moved = 0  # conversations sent to train because validation was full
        self.full = {"train": 0, "validation": 0}  # examples left out: the file was full

    def add(self, conversation: int, rendered: list[Rendered]) -> list[Rendered]:
        """Write one conversation's examples; the ones written."""
        where = side(conversation, self.seed, self.share)
        validation = self.tally.splits["validation"]
        cap = self.limits.max_validation
        if where == "validation" and cap is not None and validation.examples + len(rendered) > cap:
            where, self.moved = "train", self.moved + 1
        split = self.tally.splits[where]
        written = []
        for r in rendered:
            if split.bytes + len(r.data) > self.limits.file_bytes:
                self.full[where] += 1
                self.tally.drop("examples", "file_size_limit")
                continue
            most = self.limits.max_train
            if where == "train" and most is not None and split.examples >= most:
                self.tally.drop("examples", "too_many_examples")
                continue
            self.sink.line(where, r.data)
            self.tally.keep(r.example, where, r.tokens, len(r.data))
            written.append(r)
        split.conversations += bool(written)
        return written

    def finish(self, target: str) -> None:
        """The file-level limits, as warnings and errors in the tally."""
        limits, tally = self.limits, self.tally
        train = tally.splits["train"].examples
        validation = tally.splits["validation"].examples
        if self.moved:
            tally.warnings.append(
                f"{self.moved} conversations went to train.jsonl instead: {target} takes at"
                f" most {limits.max_validation} validation examples"
            )
        for name, left in self.full.items():
            if left:
                tally.warnings.append(
                    f"{name}.jsonl reached {target}'s limit of {limits.file_bytes:,} bytes:"
                    f" {left} examples left out"
                )
        if train == 0:
            tally.errors.append("no training examples: there is nothing to tune on")
        elif limits.min_train is not None and train < limits.min_train:
            tally.errors.append(
                f"{target} refuses fewer than {limits.min_train} training examples;"
                f" there are {train}"
            )
        elif limits.advised_train is not None and train < limits.advised_train:
            tally.warnings.append(
                f"training examples: {train}; {target} advises at least {limits.advised_train}"
            )
        share, above = limits.validation_share, limits.share_above or 0
        if share is not None and validation > above and validation > share * train:
            tally.errors.append(
                f"validation.jsonl has {validation} examples: past {above},"
                f" {target} takes at most {share:.0%} of the training examples ({train});"
                " lower --validation"
            )
        if train and not validation:
            tally.warnings.append("validation.jsonl is empty: start the job without it")
