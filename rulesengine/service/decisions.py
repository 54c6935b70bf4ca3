"""The decision log: one JSON line per claim answered, for audit, written by one writer.

A record holds the time, the request id, the pack (id, version, hash), the claim id
*hashed* (SHA-256, so an auditor who has a claim id can find its record, and the log gives
no claim id away), the rule ids that fired and the status; never claim content.

Every worker process sends its records as datagrams to one Unix socket; the one writer
behind it (a thread of the ``serve`` process) appends them to the file and rotates it by
size (``decisions.jsonl`` -> ``decisions.jsonl.1`` ...), so records of many workers never
interleave mid-line and rotation has one owner. A record that cannot be sent (the writer
gone) is counted and reported in the server's log, never silently dropped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import tempfile
import threading
import time
from logging.handlers import RotatingFileHandler
from pathlib import Path

log = logging.getLogger("rulesengine.service")
#: the largest record: a claim of 999 lines firing a rule on each stays well inside
_MAX_DATAGRAM = 1 << 16


def claim_hash(claim_id: str | None) -> str | None:
    return hashlib.sha256(claim_id.encode("utf-8")).hexdigest() if claim_id else None


def record(request_id: str, outcome) -> dict:
    """The record of one claim's answer: a Result or a ClaimError."""
    entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
             "request_id": request_id, "claim": claim_hash(outcome.claim_id)}
    if hasattr(outcome, "findings"):
        entry.update(pack=outcome.pack.to_dict(), status=outcome.status,
                     rules=sorted({f.rule_id for f in outcome.findings}))
    else:
        entry.update(pack=None, status=outcome.kind, rules=[])
    return entry


class DecisionWriter:
    """The one writer: receives records on a Unix datagram socket, appends and rotates."""

    def __init__(self, path: str, max_bytes: int = 100 << 20, backups: int = 5):
        self.path = Path(path)
        self._folder = tempfile.mkdtemp(prefix="rulesengine-decisions-")
        self.address = os.path.join(self._folder, "socket")
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(self.address)
        os.chmod(self.address, 0o600)
        self._handler = RotatingFileHandler(self.path, maxBytes=max_bytes, backupCount=backups,
                                            encoding="utf-8")
        self._handler.setFormatter(logging.Formatter("%(message)s"))
        self._thread = threading.Thread(target=self._run, name="decision-log", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            data = self._socket.recv(_MAX_DATAGRAM)
            if data == b"":  # the stop signal: an empty datagram
                break
            self._handler.emit(logging.makeLogRecord({"msg": data.decode("utf-8"), "args": None}))
            self._handler.flush()

    def close(self) -> None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as stop:
            stop.sendto(b"", self.address)
        self._thread.join(5)
        self._socket.close()
        self._handler.close()
        for leftover in (self.address, self._folder):
            try:
                os.unlink(leftover) if leftover == self.address else os.rmdir(leftover)
            except OSError:
                pass


class DecisionSender:
    """A worker's end: sends each record to the writer at ``address``."""

    def __init__(self, address: str):
        self.address = address
        self.failed = 0
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)

    def send(self, entries: list[dict]) -> None:
        for entry in entries:
            try:
                self._socket.sendto(json.dumps(entry, separators=(",", ":")).encode(), self.address)
            except OSError as error:
                self.failed += 1
                log.error("decision log: a record could not be written (%s); %d lost so far",
                          error.strerror or error, self.failed)

    def close(self) -> None:
        self._socket.close()
