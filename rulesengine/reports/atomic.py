"""Files that appear whole or not at all.

What a command writes (a table, a value-set file, a JUnit report) is written to a
temporary file beside its target and moved into place in one step, so a reader never
sees it half-written and a crash or a refused import leaves the old file as it was.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class Staged:
    """A file being written beside ``target``; ``commit`` moves it into place, ``discard``
    drops it. The target keeps its permissions; a new file gets the usual ones (mkstemp's
    are owner-only)."""

    def __init__(self, target: Path, binary: bool = False):
        self.target = target
        fd, self.temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        self.handle = os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="")

    def commit(self) -> None:
        self.handle.close()
        mode = self.target.stat().st_mode & 0o777 if self.target.exists() else 0o666 & ~_UMASK
        os.chmod(self.temp, mode)
        os.replace(self.temp, self.target)

    def discard(self) -> None:
        self.handle.close()
        if os.path.exists(self.temp):
            os.unlink(self.temp)


@contextmanager
def replacing(target: Path, binary: bool = False) -> Iterator:
    """A handle to write ``target`` through: the file takes its place when the block ends,
    and not at all when it raises."""
    staged = Staged(target, binary)
    try:
        yield staged.handle
    except BaseException:
        staged.discard()
        raise
    staged.commit()


def _read_umask() -> int:
    # os.umask can only be read by setting it: do it once, at import, not while other
    # threads of an embedding program may be creating files
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()
