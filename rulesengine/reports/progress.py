"""A progress bar for long runs, on a terminal only.

A day's file can hold hundreds of thousands of claims; a biller at a terminal should see
the run move and know when it will end. Nothing is shown when standard error is not a
terminal (a pipe, a log, CI), so scripts and saved output never carry it.

The number of claims is not known ahead (files stream), but the size of the files is: the
bar is the share of their bytes read so far, and the time left is what those bytes took.
Standard input has no size, so there it is a line with the claims checked and the rate.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from typing import TextIO

#: how often the line is redrawn, in seconds: often enough to look alive, rarely enough to cost nothing
_EVERY = 0.25
_BAR = 24  # characters of the bar


class Progress:
    """``step(source)`` after each claim; ``done()`` at the end clears the line. With the
    ``total`` bytes of the files, ``position()`` says how many are read: asked only when
    the line is drawn."""

    def __init__(self, stream: TextIO | None = None, enabled: bool | None = None,
                 total: int | None = None, position: Callable[[], int] | None = None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.total = total or None  # an empty total is as good as none: no bar
        self.position = position
        self.started = self.shown = time.monotonic()
        self.count = 0
        self.drawn = False

    def step(self, source: str) -> None:
        self.count += 1
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.shown >= _EVERY:
            self.shown = now
            self._draw(source, self.position() if self.position else None, now - self.started)

    def _draw(self, source: str, done: int | None, elapsed: float) -> None:
        rate = self.count / max(elapsed, 1e-9)
        counted = f"{self.count:,} claim{'s' if self.count != 1 else ''} ({rate:,.0f}/s)"
        if self.total and done is not None:
            share = min(done / self.total, 1.0)
            filled = round(share * _BAR)
            left = elapsed * (1 - share) / share if share else None
            line = (f"{'█' * filled}{'░' * (_BAR - filled)} {share:4.0%}  {counted}"
                    f"  {_clock(left)} left  · ")
        else:
            line = f"{counted} checked · "
        room = shutil.get_terminal_size().columns - 1 - len(line)
        self.stream.write(f"\r{line}{_shorten(source, room)}\x1b[K")
        self.stream.flush()
        self.drawn = True

    def clear(self) -> None:
        """Clear the line, so that a message (or the report's summary) stands alone on its
        own line; the next step draws it again."""
        if self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.drawn = False

    done = clear


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    minutes, seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02}:{seconds:02}" if hours else f"{minutes}:{seconds:02}"


def _shorten(name: str, room: int) -> str:
    """The file name, cut at the front to fit (its end says most), never to nothing."""
    room = max(room, 12)
    return name if len(name) <= room else "…" + name[-(room - 1):]
