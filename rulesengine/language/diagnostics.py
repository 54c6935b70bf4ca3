"""One shape for every problem found in a pack: code, place, message, and a hint.

Shown as::

    payer_rules/acme/auth.rules:12:7: unknown-name: no value set or table named 'vitd_suport'
       12 |   require any line.diagnosis in vitd_suport
          |                                 ^
      hint: did you mean 'vitd_support'?
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from .ast import Pos

#: at most this many problems are shown; the rest are counted
MAX_SHOWN = 50


@dataclass(frozen=True)
class Diagnostic:
    code: str  # a short kebab-case name of the kind of problem
    pos: Pos
    message: str
    hint: str | None = None

    def render(self, source_line: str | None = None, severity: str | None = None) -> str:
        """The problem, its source line with a caret, and the hint; ``severity`` (warning,
        info) is written before the code where a problem is not simply an error."""
        label = f"{severity}: {self.code}" if severity else self.code
        out = [f"{self.pos}: {label}: {self.message}"]
        if source_line is not None:
            gutter = f"{self.pos.line:>5} | "
            line, column = _around(source_line.rstrip("\n"), self.pos.column)
            out.append(gutter + line)
            # keep tabs so the caret lands under the spot in any editor
            lead = "".join(c if c == "\t" else " " for c in line[: column - 1])
            out.append(" " * (len(gutter) - 2) + "| " + lead + "^")
        if self.hint:
            out.append(f"  hint: {self.hint}")
        return "\n".join(out)


#: how much of a long source line is shown around the caret
_SHOWN_WIDTH = 100


def _around(line: str, column: int) -> tuple[str, int]:
    """A long line cut to the part around ``column`` (cuts marked with ...), and the
    column in what is shown."""
    if len(line) <= _SHOWN_WIDTH:
        return line, column
    start = max(0, min(column - 1 - _SHOWN_WIDTH // 2, len(line) - _SHOWN_WIDTH))
    shown = line[start:start + _SHOWN_WIDTH]
    head, tail = ("..." if start else ""), ("..." if start + _SHOWN_WIDTH < len(line) else "")
    return head + shown + tail, column - start + len(head)


class PackError(Exception):
    """A pack could not be loaded; ``diagnostics`` holds every problem found, in file order."""

    def __init__(self, diagnostics: list[Diagnostic], sources: dict[str, str] | None = None):
        self.diagnostics = sorted(
            diagnostics, key=lambda d: (d.pos.file, d.pos.line, d.pos.column, d.code)
        )
        self.sources = sources or {}
        super().__init__(self.render())

    def render(self) -> str:
        shown = self.diagnostics[:MAX_SHOWN]
        parts = [d.render(source_line(self.sources, d.pos)) for d in shown]
        hidden = len(self.diagnostics) - len(shown)
        if hidden:
            parts.append(f"... and {hidden} more problems")
        count = len(self.diagnostics)
        parts.append(f"{count} problem{'s' if count != 1 else ''} found")
        return "\n".join(parts)


def source_line(sources: dict[str, str], pos: Pos) -> str | None:
    """The line of a file a position points at, from ``sources`` or read from disk."""
    text = sources.get(pos.file)
    if text is None:
        path = Path(pos.file)
        if not path.is_file():
            return None
        text = sources[pos.file] = path.read_text(encoding="utf-8", errors="replace")
    lines = text.splitlines()
    return lines[pos.line - 1] if 0 < pos.line <= len(lines) else None


def read_source(path: Path) -> tuple[str | None, Diagnostic | None]:
    """A pack file's text, or why it cannot be read as UTF-8 (pointing at the first bad
    byte: spreadsheets often save Windows-1252)."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        return None, Diagnostic("bad-encoding", Pos(str(path), line, column),
                                f"byte 0x{data[error.start]:02x} is not UTF-8 text",
                                "save the file as UTF-8 (in Excel: 'CSV UTF-8')")


def did_you_mean(word: str, choices) -> str | None:
    """A hint naming the closest choices, or None when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.6)
    if not close:
        return None
    return "did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
