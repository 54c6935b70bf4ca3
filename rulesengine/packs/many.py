"""Checking claim files on every core: worker processes check pieces of the files, and the
outcomes come back in file order, the same as checking them one by one.

A JSON Lines file is cut into pieces of lines that the workers decode, validate and check
(reading is a third of a run); any other file is read here and its claims sent to the
workers to check. Each worker gets the compiled packs once: inherited when processes fork
(Linux), compiled again from their folders where they spawn (macOS, Windows). A worker
opens its own read-only connection to the claim history. At most ``2 x jobs`` pieces are
in flight, so memory stays flat however long the files are.

Recording into the history (``check --record``) checks each claim against those recorded
before it in the same run, so it is never split: callers run it with one job.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

from rulesengine.claims import ClaimError, ClaimFile
from rulesengine.claims.json import read_json_lines
from rulesengine.claims.model import Claim
from rulesengine.engine.history import open_history, snapshot
from rulesengine.engine.results import Result

from .cache import load_cached
from .load import PackSet, load_pack

#: claims (or lines) in a piece a worker checks: enough to pay for sending it
PIECE = 256

_packs: PackSet | None = None  # a worker's packs and history, set once when it starts
_history = None


def _start_worker(packs: PackSet | None, pack_dirs: list[str], history_path: str | None,
                  cache: str | None) -> None:
    global _packs, _history
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if packs is None:  # spawned: the packs again, from the cache the parent filled if any
        packs = PackSet([load_cached(d, cache) if cache else load_pack(d) for d in pack_dirs])
    _packs = packs
    _history = open_history(history_path) if history_path else None


def _check_piece(piece: tuple) -> list[tuple[Claim | None, Result | ClaimError]]:
    """(claim, outcome) for each item of a piece; the claim only when ``keep`` asks for it
    (the text and HTML reports show from it), as sending it back costs."""
    kind, source, first, items, keep = piece
    if kind == "lines":
        items = read_json_lines(items, source, first)
    out = []
    with snapshot(_history):
        for item in items:
            if isinstance(item, ClaimError):
                out.append((None, item))
                continue
            outcome = _packs.check(item, _history, source, 0)
            out.append((item if keep else None, outcome))
    return out


def check_files(files, packs: PackSet, jobs: int | None = None, history: str | None = None,
                keep_claims: bool = False, cache: str | None = None
                ) -> Iterator[tuple[ClaimFile, Claim | None, Result | ClaimError]]:
    """Each claim of ``files`` (paths or ``ClaimFile``s) checked by ``jobs`` worker
    processes (default: one a core), against the claim history at path ``history`` if
    given: (the file, the claim when ``keep_claims``, its Result or ClaimError), in file
    order, as checking them one by one gives. A claim not checked after reading (no pack,
    the history failed, an internal error) has its position in its file, as then. Workers
    that spawn load the packs through the pack cache in folder ``cache``, if given."""
    files = [f if isinstance(f, ClaimFile) else ClaimFile(f) for f in files]
    jobs = jobs or os.cpu_count() or 1
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    shared = packs if method == "fork" else None  # forked workers inherit them compiled
    folders = [p.folder for p in packs.packs]
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context(method),
                             initializer=_start_worker, initargs=(shared, folders, history, cache)) as pool:
        pending: deque = deque()
        for file in files:
            position = 0
            for kind, first, items in file.pieces(PIECE):
                pending.append((file, pool.submit(_check_piece, (kind, file.name, first, items,
                                                                 keep_claims))))
                while len(pending) > 2 * jobs:
                    position = yield from _outcomes(pending, position)
            while pending:  # a file's positions are its own: finish it before the next
                position = yield from _outcomes(pending, position)


def _outcomes(pending: deque, position: int) -> Iterator:
    """The oldest piece's outcomes, positions numbered on from ``position``."""
    file, future = pending.popleft()
    for claim, outcome in future.result():
        position += 1
        if isinstance(outcome, ClaimError) and outcome.kind != "unreadable" and not outcome.position:
            outcome = dataclasses.replace(outcome, position=position)
        yield file, claim, outcome
    return position
