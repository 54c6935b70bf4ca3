"""A pack reads only the files inside its folder (and the folders of the packs it extends).

A pack is data that may come from anyone (a vendor's update, a pull request, a service's
upload), and its messages quote what it reads: a table path of ``/etc/passwd`` or
``../../secrets.csv`` would print another file's lines in a "does not fit the table"
hint. So every path a pack names, and every file found in its folder, is checked here
before it is opened: an absolute path, a climb with ``..``, and a symbolic link that
resolves outside the pack roots are refused, naming the path as written and never the
file it reaches.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path, PurePosixPath, PureWindowsPath

from rulesengine.language import ast
from rulesengine.language.diagnostics import Diagnostic

_HINT = "keep the file inside the pack's folder and name it from there, like tables/mue.csv"


def named_file(folder: Path, written: str, pos: ast.Pos, what: str,
               roots: Iterable[Path]) -> tuple[Path | None, Diagnostic | None]:
    """``folder / written`` when it stays inside ``roots``, else the problem (at ``pos``)."""
    if (PurePosixPath(written).is_absolute() or PureWindowsPath(written).is_absolute()
            or PureWindowsPath(written).drive or written.startswith("~")):
        return None, Diagnostic("outside-pack", pos, f"{what} '{written}' is an absolute path: a "
                                f"pack reads only files inside its folder", _HINT)
    if ".." in PureWindowsPath(written).parts:  # splits on / and \ alike
        return None, Diagnostic("outside-pack", pos, f"{what} '{written}' climbs out of the pack "
                                f"with '..': a pack reads only files inside its folder", _HINT)
    path = folder / written
    problem = found_file(path, pos, what, roots, written)
    return (None, problem) if problem else (path, None)


def found_file(path: Path, pos: ast.Pos, what: str, roots: Iterable[Path],
               written: str | None = None) -> Diagnostic | None:
    """The problem when ``path`` (a file of the pack's folder, or one a pack names) resolves,
    through a symbolic link, outside every root; None when it is inside one."""
    try:
        real = path.resolve()
    except (OSError, RuntimeError):  # a loop of links
        real = None
    if real is not None and any(real.is_relative_to(root.resolve()) for root in roots):
        return None
    shown = written or path.name
    return Diagnostic("outside-pack", pos, f"{what} '{shown}' is a symbolic link to a file outside "
                      f"the pack's folder: a pack reads only files inside it", _HINT)
