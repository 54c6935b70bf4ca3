"""The progress line: on a terminal only, never in a pipe or a saved report."""

from __future__ import annotations

import io

from rulesengine.progress import Progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_nothing_is_shown_when_standard_error_is_not_a_terminal():
    stream = io.StringIO()
    progress = Progress(stream)
    for _ in range(5000):
        progress.step("day.jsonl")
    progress.done()
    assert stream.getvalue() == "" and progress.count == 5000


def test_a_terminal_sees_the_count_and_rate_then_a_cleared_line(monkeypatch):
    stream = _Terminal()
    clock = iter(float(t) for t in range(10_000))
    monkeypatch.setattr("rulesengine.progress.time.monotonic", lambda: next(clock))
    progress = Progress(stream)
    for _ in range(3):
        progress.step("day.jsonl")
    progress.done()
    shown = stream.getvalue()
    assert "\r3 claims checked (" in shown and "/s) · day.jsonl" in shown
    assert shown.endswith("\r\x1b[K")  # the summary that follows starts on a clean line
