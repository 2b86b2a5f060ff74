"""Which share of a batch a `grade --shard K/N` run grades: a stable hash of each student id."""
from __future__ import annotations

import hashlib


class ShardError(ValueError):
    """A shard cannot be run or merged as asked; the message says why and what to do."""


def shard_of(student: str, count: int) -> int:
    """The shard (1..count) a student id belongs to: a stable hash of the id, the same on every machine."""
    return int.from_bytes(hashlib.sha256(student.encode("utf-8")).digest()[:8], "big") % count + 1


def parse_shard(text: str) -> tuple[int, int]:
    """'K/N' -> (K, N), with 1 <= K <= N."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ShardError(f"--shard takes K/N (for example 2/8), got {text!r}") from None
    if not 1 <= index <= count:
        raise ShardError(f"--shard {text}: K must be between 1 and N")
    return index, count
