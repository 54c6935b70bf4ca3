"""Claim history: the lines already recorded for each member, which frequency and
duplicate rules read.

A history is runtime state, given to each check (``CompiledPack.check(claim, history=h)``),
never a global, so one compiled pack serves many threads and many histories. Anything with
``lines_for(member_id, procedure)`` and ``member_lines(member_id)`` methods returning
``HistoryLine``s will do:
``MemoryHistory`` for tests and small batches, ``SQLiteHistory`` for the file the
``rulesengine history`` commands and ``check --record`` keep (see
docs/history-and-validity.md). ``SQLiteHistory`` is read fastest a batch of claims at a
time inside ``snapshot()``, and records through ``recording()``, one transaction.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, date, datetime
from pathlib import Path
from typing import NamedTuple, Protocol

from rulesengine.claims.model import Claim
from rulesengine.language.dates import add_months

from .historyfile import HistoryError, open_file
from .lineindex import LineIndex
from .pghistory import open_database, redacted

DEFAULT_PATH = "rulesengine-history.sqlite"
ENV_VAR = "RULESENGINE_HISTORY"
SCHEMA_VERSION = 2  # 2: each line's units (a version-1 file gains the column when opened)
VOID, REPLACEMENT = "8", "7"  # claim frequency codes (CLM05-3)


class HistoryLine(NamedTuple):
    """One recorded line of a claim, as rules that read the history see it."""

    claim_id: str
    service_date: date
    billing_npi: str | None
    procedure: str | None = None
    modifiers: tuple[str, ...] = ()
    units: int | float | None = None  # None for lines recorded before the history kept units
    line_number: int | None = None
    payer_id: str | None = None


class History(Protocol):
    def lines_for(self, member_id: str, procedure: str) -> Sequence[HistoryLine]:
        """Every recorded line of this member with this procedure code, in any order."""

    def member_lines(self, member_id: str) -> Sequence[HistoryLine]:
        """Every recorded line of this member, by date of service, claim id and line number
        (the order in which a rule that found an earlier line names the first)."""


def snapshot(history) -> AbstractContextManager:
    """``history.snapshot()`` where the history has one (``SQLiteHistory``), else a block
    that does nothing: for code that checks batches against any history."""
    opener = getattr(history, "snapshot", None)
    return opener() if opener is not None else nullcontext()


class HistoryRequired(Exception):
    """A pack with frequency or duplicate rules was asked to check a claim with no history:
    answering would silently pass every such rule."""

    def __init__(self, pack: str, rule_ids: Sequence[str]):
        self.pack, self.rule_ids = pack, tuple(rule_ids)
        super().__init__(
            f"pack {pack} has rules that read the claim history ({', '.join(rule_ids)}), "
            f"and no history was given: pass --history PATH (or set {ENV_VAR}), "
            f"or check(claim, history=...) from Python")


def window_start(day: date, amount: int | None, unit: str | None) -> date | None:
    """The first day a frequency limit ``per amount unit`` counts, for a service on ``day``
    (the window ends on ``day``). None per lifetime.

    Days are exact: ``per 365 days`` counts the 365 days ending on ``day``. Months and years
    count whole calendar months, as Medicare states its yearly limits ("at least 11 full
    months have passed following the month in which the last ... was performed"):
    ``per 12 months`` counts this month and the 11 before it.
    """
    if amount is None:
        return None
    if unit in ("day", "days"):
        return date.fromordinal(day.toordinal() - amount + 1)
    months = amount * 12 if unit in ("year", "years") else amount
    return add_months(day.replace(day=1), -(months - 1))


# ---- in memory ---------------------------------------------------------------------------

class MemoryHistory:
    """A history held in a dict: for tests, and for checking one batch against itself."""

    def __init__(self, claims: Sequence[Claim] = ()):
        self._lines: dict[tuple[str, str], list[HistoryLine]] = {}
        self._keys: dict[str, set[tuple[str, str]]] = {}  # claim id -> where its lines are
        self._members: dict[str, set[tuple[str, str]]] = {}  # member id -> where their lines are
        #: member id -> their lines in order, grouped as rules ask: kept until they change
        self._ordered: dict[str, LineIndex] = {}
        for claim in claims:
            self.add(claim)

    @classmethod
    def of_lines(cls, lines: Iterable[tuple[str, HistoryLine]]) -> MemoryHistory:
        """A history of lines recorded elsewhere, as (member id, line) pairs: a Spark
        executor's, say, given a claim's member's lines by a join."""
        history = cls()
        for member_id, line in lines:
            history._put(member_id, line)
        return history

    def add(self, claim: Claim) -> None:
        """Record a claim: its lines replace any recorded under its id; a void removes them."""
        self.remove(claim.claim_id)
        if claim.frequency_code == VOID or not claim.member_id:
            return
        self._ordered.pop(claim.member_id, None)
        for line in claim.lines:
            if line.procedure:
                self._put(claim.member_id, HistoryLine(
                    claim.claim_id, line.service_date, claim.billing_npi, line.procedure,
                    line.modifiers, line.units, line.line_number, claim.payer_id))

    def _put(self, member_id: str, line: HistoryLine) -> None:
        key = (member_id, line.procedure)
        self._lines.setdefault(key, []).append(line)
        self._keys.setdefault(line.claim_id, set()).add(key)
        self._members.setdefault(member_id, set()).add(key)

    def remove(self, claim_id: str) -> None:
        for key in self._keys.pop(claim_id, ()):
            self._ordered.pop(key[0], None)
            kept = [r for r in self._lines[key] if r.claim_id != claim_id]
            if kept:
                self._lines[key] = kept
            else:
                del self._lines[key]
                self._members[key[0]].discard(key)

    def lines_for(self, member_id: str, procedure: str) -> list[HistoryLine]:
        return list(self._lines.get((member_id, procedure), ()))

    def member_lines(self, member_id: str) -> tuple[HistoryLine, ...]:
        return self.member_index(member_id).lines

    def member_index(self, member_id: str) -> LineIndex:
        """The member's lines (as ``member_lines``) with their groupings, kept between claims."""
        found = self._ordered.get(member_id)
        if found is None:
            found = self._ordered[member_id] = LineIndex(tuple(sorted(
                (line for key in self._members.get(member_id, ()) for line in self._lines[key]),
                key=_in_order)))
        return found


# ---- SQLite ------------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS claim_lines (
    member_id TEXT NOT NULL,
    claim_id TEXT NOT NULL,
    line_number INTEGER NOT NULL,
    procedure TEXT NOT NULL,
    modifiers TEXT NOT NULL,
    service_date TEXT NOT NULL,
    billing_npi TEXT,
    payer_id TEXT,
    frequency_code TEXT,
    recorded_at TEXT NOT NULL,
    units REAL
);
CREATE INDEX IF NOT EXISTS claim_lines_member ON claim_lines (member_id, procedure, service_date);
CREATE INDEX IF NOT EXISTS claim_lines_claim ON claim_lines (claim_id);
-- a member's lines in the order rules read them (no sort per claim checked)
CREATE INDEX IF NOT EXISTS claim_lines_member_day ON claim_lines (member_id, service_date, claim_id, line_number);
"""


_CACHE_KIB = 64 * 1024


def resolve_path(explicit: str | Path | None = None) -> Path:
    """--history PATH, else $RULESENGINE_HISTORY, else rulesengine-history.sqlite here."""
    return Path(_named(explicit))


def _named(explicit: str | Path | None) -> str:
    """The history named, as given (a URL must not pass through Path, which folds '//')."""
    return str(explicit or os.environ.get(ENV_VAR) or DEFAULT_PATH)


class TableHistory:
    """A history kept in a ``claim_lines`` table of a database (SQLite or PostgreSQL):
    reading, snapshots, recording. Safe to share between threads (one connection, used
    under a lock). ``_db`` has the DB-API shape of ``sqlite3`` (``execute`` with ``?``
    parameters, ``executemany``, ``in_transaction``, ``commit``, ``rollback``); ``_errors``
    are the database's errors."""

    _errors: tuple[type[Exception], ...] = (sqlite3.Error,)
    path: object  # what messages name it by
    address: object  # what opens it again (the file, or the URL with its password)
    writable: bool

    def _start(self, db, columns: str) -> None:
        self._lock = threading.RLock()  # re-entered by reads inside a snapshot or recording
        #: inside a snapshot or a recording: the members' lines read so far (one state of
        #: the history holds them all); None outside, where every read asks the database
        self._read: dict[str, LineIndex] | None = None
        self._db, self._columns = db, columns

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def snapshot(self) -> Iterator[TableHistory]:
        """Reads inside see one state of the history and share one read transaction.
        While it is open other threads wait and other processes cannot record, so hold it
        for a batch of checks, never while waiting for input or output. Inside a recording
        it changes nothing."""
        with self._lock:
            if self._db.in_transaction:
                yield self
                return
            self._db.execute("BEGIN")
            self._read = {}
            try:
                yield self
            finally:
                self._read = None
                self._end_read()

    def _end_read(self) -> None:
        """End a read transaction. Nothing was written, so a file that fails even this (a
        damaged page found by a read) loses nothing: the reads that failed were reported
        by the claims that made them."""
        try:
            self._db.commit()
        except self._errors:
            try:
                self._db.rollback()
            except self._errors:
                pass

    @contextmanager
    def recording(self) -> Iterator[Recording]:
        """Record claims one at a time (``Recording.add``) in one transaction, committed
        when the block ends, rolled back if it raises: a crash or an interrupt records none.
        Reads inside, from the thread that opened it, see what it has recorded so far; other
        threads wait until it ends, and other processes cannot record meanwhile."""
        if not self.writable:
            raise HistoryError(f"{self.path}: cannot record: the history is open read-only "
                               f"(open it with create=True to record)")
        with self._lock:
            if self._db.in_transaction:
                raise RuntimeError("a recording cannot start inside a snapshot or another recording")
            try:
                self._db.execute("BEGIN IMMEDIATE")  # take the write lock now, not halfway
            except self._errors as error:
                raise HistoryError(f"{self.path}: cannot record ({error}): another process "
                                   f"may be recording; try again when it has finished") from None
            self._read = {}
            try:
                yield Recording(self)
            except BaseException:
                self._db.rollback()
                raise
            finally:
                self._read = None
            try:
                self._db.commit()
            except self._errors as error:
                self._db.rollback()
                raise HistoryError(f"{self.path}: nothing recorded: the commit failed ({error})") from None

    def _record(self, claim: Claim, counts: dict[str, int], now: str) -> None:
        with self._lock:
            gone = self._db.execute("DELETE FROM claim_lines WHERE claim_id = ?",
                                    (claim.claim_id,)).rowcount
            if self._read is not None:  # what was read of this member is out of date now
                if gone:  # the claim replaced may have been another member's
                    self._read.clear()
                else:
                    self._read.pop(claim.member_id, None)
            if claim.frequency_code == VOID:
                counts["voided"] += 1
                return
            counts["replaced"] += 1 if gone else 0
            counts["claims"] += 1
            rows = [(claim.member_id, claim.claim_id, ln.line_number, ln.procedure,
                     ",".join(ln.modifiers), ln.service_date.isoformat(), claim.billing_npi,
                     claim.payer_id, claim.frequency_code, now, ln.units)
                    for ln in claim.lines if ln.procedure and claim.member_id]
            self._db.executemany(
                "INSERT INTO claim_lines (member_id, claim_id, line_number, procedure, modifiers, "
                "service_date, billing_npi, payer_id, frequency_code, recorded_at, units) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
            counts["lines"] += len(rows)

    def add_claims(self, claims: Iterable[Claim]) -> dict[str, int]:
        """Record claims in one transaction (all or none); returns counts (claims, lines,
        replaced, voided)."""
        with self.recording() as recording:
            for claim in claims:
                recording.add(claim)
        return recording.counts

    def add(self, claim: Claim) -> None:
        self.add_claims([claim])

    def lines_for(self, member_id: str, procedure: str) -> list[HistoryLine]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {self._columns} FROM claim_lines "
                "WHERE member_id = ? AND procedure = ? ORDER BY service_date",
                (member_id, procedure)).fetchall()
        return [_history_line(row) for row in rows]

    def member_lines(self, member_id: str) -> list[HistoryLine]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {self._columns} FROM claim_lines WHERE member_id = ? "
                "ORDER BY service_date, claim_id, line_number",
                (member_id,)).fetchall()
        return [_history_line(row) for row in rows]

    def member_index(self, member_id: str) -> LineIndex:
        """The member's lines with their groupings; inside a snapshot or a recording read
        once and kept until it ends (a member with several claims in a batch is read once)."""
        with self._lock:
            read = self._read
            found = read.get(member_id) if read is not None else None
            if found is None:
                found = LineIndex(tuple(self.member_lines(member_id)))
                if read is not None:
                    read[member_id] = found
        return found

    def listing(self, member_id: str) -> list[tuple]:
        """Every recorded line of a member: (service date, procedure, modifiers, claim id,
        line number, billing NPI, payer, frequency code, recorded at), by date."""
        with self._lock:
            return self._db.execute(
                "SELECT service_date, procedure, modifiers, claim_id, line_number, billing_npi, "
                "payer_id, frequency_code, recorded_at FROM claim_lines WHERE member_id = ? "
                "ORDER BY service_date, claim_id, line_number", (member_id,)).fetchall()


class SQLiteHistory(TableHistory):
    """The history in one SQLite file. Safe to share between threads (one connection,
    used under a lock); close it, or use it in a ``with`` block.

    Each lookup outside a transaction pays SQLite's lock-and-check round trip (a shared
    lock, a look for a hot journal, the file's change counter, the unlock), which costs
    more than the indexed read itself: check batches of claims inside ``snapshot()``, which
    shares one read transaction among them. Inside ``recording()`` every read already
    shares the recording's transaction.
    """

    def __init__(self, path: str | Path, create: bool = True):
        """``create``: the file may be created, and is opened to record into; else it must
        be a history already and is opened read-only (see ``historyfile``)."""
        self.path = self.address = Path(path)
        self.writable = create
        self._start(*open_file(self.path, create, _SCHEMA, SCHEMA_VERSION))
        # up to 64 MiB of pages (SQLite's default is 2 MiB): a run's recording dirties
        # pages all over the indexes, and a small cache spills them to the file, syncing
        # the journal, in mid-transaction (check --record ran about 1.4x faster)
        self._db.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")


def _in_order(line: HistoryLine) -> tuple:
    return (line.service_date, line.claim_id, line.line_number or 0)


def _history_line(row: tuple) -> HistoryLine:
    claim_id, day, npi, procedure, modifiers, units, number, payer = row
    return HistoryLine(claim_id, _day(day), npi, procedure, _modifiers(modifiers), recorded_units(units),
                       number, payer)


def recorded_units(units: float | int | None) -> float | int | None:
    """Units as a table kept them (a REAL column, a double), as the claim had them: whole
    units an integer, as ``Claim`` holds them."""
    return int(units) if units is not None and float(units).is_integer() else units


@functools.lru_cache(maxsize=1 << 14)
def _day(text: str) -> date:  # a history holds few distinct dates and many lines of each
    return date.fromisoformat(text)


@functools.lru_cache(maxsize=1 << 12)
def _modifiers(text: str) -> tuple[str, ...]:
    return tuple(text.split(",")) if text else ()


class Recording:
    """Claims recorded into an open transaction (``TableHistory.recording``): a claim id
    already recorded is replaced, a void (frequency code 8) removes it and records nothing;
    lines without a procedure and claims without a member id are not recorded."""

    def __init__(self, history: TableHistory):
        self.history = history
        #: claims recorded, their lines, how many replaced an earlier copy, voids applied
        self.counts = {"claims": 0, "lines": 0, "replaced": 0, "voided": 0}
        self._now = datetime.now(UTC).isoformat(timespec="seconds")

    def add(self, claim: Claim) -> None:
        self.history._record(claim, self.counts, self._now)

    def describe(self) -> str:
        """What was recorded, as ``history add`` and ``check --record`` report it."""
        c = self.counts
        return (f"{self.history.path}: recorded {_count(c['claims'], 'claim')} "
                f"({_count(c['lines'], 'line')}), {c['replaced']} replacing earlier copies, "
                f"{_count(c['voided'], 'void')} applied")


def open_history(path: str | Path | None = None, create: bool = False) -> TableHistory:
    """The history ``check`` reads: it must exist already (a typo must not check against an
    empty history and pass every frequency rule), unless ``create`` (to record into it).
    ``path`` is a SQLite file, or a ``postgresql://`` URL (``PostgresHistory``)."""
    target = _named(path)
    if target.startswith(("postgresql://", "postgres://")):
        return PostgresHistory(target, create=create)
    return SQLiteHistory(Path(target), create=create)


class PostgresHistory(TableHistory):
    """The history in PostgreSQL (``pghistory``): for several processes or hosts."""

    def __init__(self, url: str, create: bool = False):
        self.address, self.path, self.writable = url, redacted(url), create
        # opened first: it says in words when psycopg is not installed
        self._start(*open_database(url, create, _SCHEMA, SCHEMA_VERSION))
        import psycopg  # the database's errors, for the shared transaction handling
        self._errors = (psycopg.Error,)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
