"""A progress line for long runs, on a terminal only.

A day's file can hold hundreds of thousands of claims; a biller at a terminal should see
the run move. Nothing is shown when standard error is not a terminal (a pipe, a log, CI),
so scripts and saved output never carry it. The count of claims is not known ahead (files
stream), so it shows what is done and the rate, not a percentage.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

#: how often the line is redrawn, in seconds: often enough to look alive, rarely enough to cost nothing
_EVERY = 0.25


class Progress:
    def __init__(self, stream: TextIO | None = None, enabled: bool | None = None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
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
            rate = self.count / max(now - self.started, 1e-9)
            self.stream.write(f"\r{self.count:,} claims checked ({rate:,.0f}/s) · {source}\x1b[K")
            self.stream.flush()
            self.drawn = True

    def done(self) -> None:
        if self.drawn:  # clear the line so the report's summary stands alone
            self.stream.write("\r\x1b[K")
            self.stream.flush()
