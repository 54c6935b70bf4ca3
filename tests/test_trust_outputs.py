"""Attacks on what a run writes and how it ends: --output never replaces an input or a
device, a failing folder or disk is one message with nothing written, Ctrl-C and SIGTERM
leave no temporary file and exit 130 and 143, CSV quotes what would start a new row."""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import corpus
from rulesengine.cli import main

ROOT = Path(__file__).resolve().parents[1]
MEDICARE = str(ROOT / "payer_rules" / "medicare")
CLAIMS = ROOT / "examples" / "claims" / "clean.json"
POSIX = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and pipes")


def check(*args):
    return CliRunner().invoke(main, ["check", *map(str, args), "--pack", MEDICARE])


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_output_naming_an_input_is_refused_and_the_input_kept(tmp_path):
    claims = tmp_path / "day.json"
    claims.write_bytes(CLAIMS.read_bytes())
    before = claims.read_bytes()
    for output in (claims, tmp_path / "." / "day.json"):
        result = check(claims, "-o", output, "--format", "json")
        assert result.exit_code == 2
        assert "is one of the inputs" in result.output
        assert claims.read_bytes() == before


def test_output_into_a_folder_of_claims_names_an_input(tmp_path):
    (tmp_path / "a.json").write_bytes(CLAIMS.read_bytes())
    result = check(tmp_path, "-o", tmp_path / "a.json", "--format", "json")
    assert result.exit_code == 2 and "is one of the inputs" in result.output


def test_a_device_is_not_replaced(tmp_path):
    """As root, -o /dev/null used to replace /dev/null with a report. The test makes its own
    null device where it may (as root), so a failure never breaks the machine's."""
    device = Path("/dev/null")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        device = tmp_path / "null"
        os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    result = check(CLAIMS, "-o", device)
    assert result.exit_code == 2
    assert f"{device} is not a regular file" in result.output
    assert device.is_char_device()


@POSIX
def test_a_named_pipe_is_not_replaced(tmp_path):
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    result = check(CLAIMS, "-o", fifo)
    assert result.exit_code == 2 and "is not a regular file" in result.output
    assert fifo.is_fifo()


def test_a_missing_folder_is_one_message(tmp_path):
    result = check(CLAIMS, "-o", tmp_path / "no" / "such" / "report.txt")
    assert result.exit_code == 2
    assert f"the folder {tmp_path / 'no' / 'such'} does not exist" in result.output
    assert "Traceback" not in result.output


def test_a_folder_that_cannot_be_written_is_one_message():
    result = check(CLAIMS, "-o", "/sys/report.txt")  # refused to root as well
    assert result.exit_code == 2
    assert "cannot write /sys/report.txt: Permission denied" in result.output


def test_a_full_disk_is_one_message_and_nothing_written(tmp_path, monkeypatch):
    from rulesengine.reports import atomic

    class Full(io.StringIO):
        def write(self, text):
            raise OSError(errno.ENOSPC, "No space left on device")
    real = atomic.os.fdopen

    def fdopen(fd, *args, **kwargs):
        handle = real(fd, *args, **kwargs)
        handle.close()
        return Full()
    monkeypatch.setattr(atomic.os, "fdopen", fdopen)
    target = tmp_path / "report.txt"
    result = check(CLAIMS, "-o", target)
    assert result.exit_code == 2
    assert f"cannot write {target}: No space left on device; nothing was written" in result.output
    assert not target.exists() and leftovers(tmp_path) == []


def test_a_stale_temporary_file_does_not_confuse_a_later_run(tmp_path):
    stale = tmp_path / ".report.json.k1ll3d.tmp"
    stale.write_text("half a report from a run that was killed")
    target = tmp_path / "report.json"
    assert check(CLAIMS, "-o", target, "--format", "json").exit_code == 0
    json.loads(target.read_text())
    assert stale.read_text().startswith("half a report")  # another run's file: not ours to touch


# ---- signals: run the command for real, feed it from a pipe that stays open, then stop it ---

def _started(tmp_path: Path, output: Path) -> tuple[subprocess.Popen, int]:
    fifo = tmp_path / "claims.jsonl"
    os.mkfifo(fifo)
    process = subprocess.Popen(
        [sys.executable, "-m", "rulesengine", "check", str(fifo), "--pack", MEDICARE,
         "--format", "jsonl", "-o", str(output)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    writer = None
    while writer is None:  # the pipe opens for writing once the command reads it
        try:
            writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as error:
            if error.errno != errno.ENXIO or process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise AssertionError(f"the command never read the pipe: {process.communicate()}")
            time.sleep(0.05)
    os.set_blocking(writer, True)
    claim = json.dumps(corpus.claim_data(claim_id="C1")) + "\n"
    os.write(writer, claim.encode() * 50)
    while not leftovers(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.05)  # the report file is staged once the pack is loaded
    assert leftovers(tmp_path), "the command never started writing"
    return process, writer


@POSIX
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_run_leaves_no_file_and_exits_with_the_signal(tmp_path, signum, code):
    output = tmp_path / "report.jsonl"
    process, writer = _started(tmp_path, output)
    try:
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=60)
    finally:
        os.close(writer)
    assert process.returncode == code, stderr.decode()
    assert b"Aborted!" not in stderr and b"Traceback" not in stderr
    assert not output.exists() and leftovers(tmp_path) == []


# ---- what the reports hold -------------------------------------------------------------------

def test_csv_quotes_a_carriage_return_so_no_new_row_starts(tmp_path):
    bad = corpus.claim_data(claim_id="A\r=SUM(1+1)")
    bad["lines"][0]["units"] = -1  # unreadable: a row with the claim id and the error
    fine = corpus.claim_data(claim_id="B\r=SUM(2+2)")
    path = tmp_path / "cr.json"
    path.write_text(json.dumps([bad, fine]))
    result = check(path, "--format", "csv")
    raw = result.stdout
    assert '"A\r=SUM(1+1)"' in raw and '"B\r=SUM(2+2)"' in raw
    rows = list(csv.reader(io.StringIO(raw, newline="")))
    assert [r[0] for r in rows[1:]] == ["A\r=SUM(1+1)", "B\r=SUM(2+2)"]


def test_eight_threads_sharing_a_pack_give_the_same_findings():
    """Eight threads each checking the same claims with one pack give the same findings
    (a pack is shared between a service's threads)."""
    import rulesengine
    pack = rulesengine.load_pack(MEDICARE)
    claims = [c for c in rulesengine.read_claims(ROOT / "examples" / "claims" / "dirty.json")
              if not isinstance(c, rulesengine.ClaimError)]
    want = [pack.check(c).to_dict() for c in claims]
    got: list = [None] * 8

    def work(i):
        got[i] = [pack.check(c).to_dict() for c in claims]
    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(g == want for g in got)
