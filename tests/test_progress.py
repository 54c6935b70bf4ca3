"""The progress bar: on a terminal only, never in a pipe or a saved report."""

from __future__ import annotations

import io
import json

from rulesengine.claims import ClaimFile
from rulesengine.reports.progress import Progress


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


def test_without_a_size_standard_input_shows_the_count_and_rate_then_a_cleared_line(monkeypatch):
    stream = _Terminal()
    clock = iter(float(t) for t in range(10_000))
    monkeypatch.setattr("rulesengine.reports.progress.time.monotonic", lambda: next(clock))
    progress = Progress(stream)
    for _ in range(3):
        progress.step("day.jsonl")
    progress.done()
    shown = stream.getvalue()
    assert "\r3 claims (" in shown and "/s) checked · day.jsonl" in shown
    assert shown.endswith("\r\x1b[K")  # the summary that follows starts on a clean line


def test_with_the_size_known_the_bar_is_the_share_of_bytes_read_and_the_time_left(monkeypatch):
    stream = _Terminal()
    clock = iter(float(t) for t in range(10_000))
    monkeypatch.setattr("rulesengine.reports.progress.time.monotonic", lambda: next(clock))
    read = iter([1000, 4000])
    progress = Progress(stream, total=4000, position=lambda: next(read))
    progress.step("monday.837")  # one second in, a quarter of the bytes read
    drawn = stream.getvalue().split("\r")[-1]
    assert drawn.startswith("██████░░░░░░░░░░░░░░░░░░  25%  1 claim (1/s)  0:03 left  · monday.837")
    progress.step("monday.837")
    drawn = stream.getvalue().split("\r")[-1]
    assert drawn.startswith("█" * 24 + " 100%  2 claims (1/s)  0:00 left")


def test_a_claim_file_says_how_far_its_reading_has_got(tmp_path):
    claim = {"claim_id": "C1", "claim_type": "professional", "payer": {"id": "medicare"},
             "patient": {"birth_date": "1950-04-02", "sex": "F"}, "diagnoses": ["E55.9"],
             "lines": [{"line_number": 1, "procedure": "82306", "units": 1,
                        "service_date": "2026-01-15", "diagnosis_pointers": [1]}]}
    path = tmp_path / "day.jsonl"
    # enough claims that the file is read in several buffers
    path.write_text("".join(json.dumps({**claim, "claim_id": f"C{i}"}) + "\n" for i in range(3000)))
    file = ClaimFile(path)
    assert (file.size, file.bytes_read) == (path.stat().st_size, 0)
    seen = []
    for item in file:
        seen.append(file.bytes_read)
    assert len(seen) == 3000 and seen == sorted(seen)
    assert 0 < seen[0] < seen[-1] <= file.size
    assert file.bytes_read == file.size  # read to the end


def test_a_message_in_the_middle_of_a_run_gets_a_line_of_its_own(monkeypatch):
    stream = _Terminal()
    clock = iter(float(t) for t in range(10_000))
    monkeypatch.setattr("rulesengine.reports.progress.time.monotonic", lambda: next(clock))
    progress = Progress(stream)
    progress.step("day.jsonl")
    progress.clear()
    stream.write("unreadable: day.jsonl: line 2: ...\n")
    progress.step("day.jsonl")
    progress.done()
    shown = stream.getvalue()
    assert "/s) checked · day.jsonl\x1b[K\r\x1b[Kunreadable: day.jsonl" in shown
    assert shown.endswith("unreadable: day.jsonl: line 2: ...\n\r2 claims (1/s) checked · day.jsonl"
                          "\x1b[K\r\x1b[K")
