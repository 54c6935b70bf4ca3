"""Files that appear whole or not at all.

What a command writes (a table, a value-set file, a JUnit report) is written to a
temporary file beside its target and moved into place in one step, so a reader never
sees it half-written and a crash or a refused import leaves the old file as it was.

A target that is not a regular file (a device such as /dev/null, a named pipe, a folder)
or that is one of the command's inputs is refused before anything is written: replacing
it would destroy what it is (as root, /dev/null) or the data being read. The temporary
file has a unique name (a stale one from a killed run is never reused) and is removed
when the block raises, SIGINT and SIGTERM included (the command line turns SIGTERM into
an exception).
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


#: what writing a file (not reading the inputs) fails with
_WRITE_FAILURES = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO}


class OutputError(OSError):
    """The output file cannot be written, or must not be; nothing was written. An OSError,
    so a command that reports a failing disk reports this the same way."""


def refuse_unsafe(target: Path, inputs=()) -> None:
    """Raise OutputError when ``target`` is not a place for a new regular file, or is one
    of ``inputs`` (paths being read)."""
    try:
        status = target.stat()
    except FileNotFoundError:
        status = None
    except OSError as error:
        raise OutputError(f"cannot write {target}: {error.strerror}") from None
    if status is not None and not stat.S_ISREG(status.st_mode):
        raise OutputError(f"{target} is not a regular file (a device, a pipe or a folder): "
                          f"give the path of a file to write")
    for name in inputs:
        if name != "-" and status is not None and os.path.exists(name) and os.path.samefile(name, target):
            raise OutputError(f"{target} is one of the inputs ({name}): writing it would "
                              f"replace what is being read; give another output file")
    if not target.parent.is_dir():
        raise OutputError(f"cannot write {target}: the folder {target.parent} does not exist")


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
        try:
            self.handle.close()
        except OSError:  # a full disk fails the close's flush too: the file goes anyway
            pass
        if os.path.exists(self.temp):
            os.unlink(self.temp)


@contextmanager
def replacing(target: Path, binary: bool = False, inputs=()) -> Iterator:
    """A handle to write ``target`` through: the file takes its place when the block ends,
    and not at all when it raises. OutputError when it is refused (``refuse_unsafe``) or
    writing fails (a read-only folder, a full disk)."""
    refuse_unsafe(target, inputs)
    try:
        staged = Staged(target, binary)
    except OSError as error:
        raise OutputError(f"cannot write {target}: {error.strerror}") from None
    try:
        yield staged.handle
    except OSError as error:
        staged.discard()
        if error.errno in _WRITE_FAILURES:  # the handle's writes: a full disk, a quota
            raise OutputError(f"cannot write {target}: {error.strerror}; nothing was written") from None
        raise
    except BaseException:
        staged.discard()
        raise
    try:
        staged.commit()
    except OSError as error:
        staged.discard()
        raise OutputError(f"cannot write {target}: {error.strerror}; nothing was written") from None


def _read_umask() -> int:
    # os.umask can only be read by setting it: do it once, at import, not while other
    # threads of an embedding program may be creating files
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()
