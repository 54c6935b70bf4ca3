"""Opening a claim history file: what is refused before anything is written to it.

A history is the record of what was submitted; a check must never change it by mistake.
So a file that is not a history (empty, another program's SQLite database, an unknown
``schema_version``) is refused without a byte written; a history opened only to read
(``check`` without ``--record``) is opened read-only, so even a history of an older schema
stays as it is (it is read as it is); a history another process holds locked is waited
for ``LOCK_WAIT_SECONDS`` and then refused in plain words.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path
from urllib.parse import quote

#: how long to wait for another process's lock (a recording's commit) before saying so
LOCK_WAIT_SECONDS = 10.0
#: the columns a line is read with; a version-1 history has no units (read as unknown)
LINE_COLUMNS = "claim_id, service_date, billing_npi, procedure, modifiers, units, line_number, payer_id"
_V1_LINE_COLUMNS = LINE_COLUMNS.replace("units", "NULL AS units")
_MAKE_ONE = "record claims with 'rulesengine history add' or 'rulesengine check --record'"


class HistoryError(Exception):
    """The history file cannot be used (not a history, a newer schema, locked, read-only)."""


def open_file(path: Path, create: bool, schema: str, version: int) -> tuple[sqlite3.Connection, str]:
    """A connection to the history at ``path`` and the columns to read its lines with.
    ``create``: the history may be created (a new file gets ``schema``) and written to;
    else it must exist and is opened read-only."""
    exists = _refuse_unusable(path, create)
    try:
        if create:
            db = sqlite3.connect(path, timeout=LOCK_WAIT_SECONDS, check_same_thread=False)
        else:
            db = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True,
                                 timeout=LOCK_WAIT_SECONDS, check_same_thread=False)
    except sqlite3.Error as error:
        raise HistoryError(f"{path}: cannot open the claim history ({error})") from None
    try:
        columns = _columns(db, path, exists, create, schema, version)
    except sqlite3.OperationalError as error:
        db.close()
        if "locked" in str(error):
            raise HistoryError(f"{path}: the claim history is locked by another process (waited "
                               f"{LOCK_WAIT_SECONDS:g} s); try again when it has finished") from None
        raise HistoryError(f"{path}: not a claim history ({error})") from None
    except sqlite3.DatabaseError as error:
        db.close()
        raise HistoryError(f"{path}: not a claim history ({error})") from None
    except HistoryError:
        db.close()
        raise
    return db, columns


def _refuse_unusable(path: Path, create: bool) -> bool:
    """Whether the file exists; HistoryError for one that cannot be a history to use."""
    try:
        status = path.stat()
    except FileNotFoundError:
        if not create:
            raise HistoryError(f"{path}: no claim history here ({_MAKE_ONE})") from None
        return False
    except OSError as error:
        raise HistoryError(f"{path}: cannot open the claim history ({error.strerror})") from None
    if not stat.S_ISREG(status.st_mode):
        raise HistoryError(f"{path}: not a file, so not a claim history")
    if status.st_size == 0:
        raise HistoryError(f"{path}: an empty file, not a claim history ({_MAKE_ONE}; delete "
                           f"the empty file first)")
    if create and not os.access(path, os.W_OK):
        raise HistoryError(f"{path}: the claim history is read-only here: nothing can be recorded "
                           f"in it (check without --record reads it)")
    return True


def _columns(db, path: Path, exists: bool, create: bool, schema: str, version: int) -> str:
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not exists:
        with db:
            db.executescript(schema)
            db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(version),))
        return LINE_COLUMNS
    if not {"meta", "claim_lines"} <= tables:
        raise HistoryError(f"{path}: another program's SQLite database, not a claim history "
                           f"(it has no rulesengine tables); nothing was written to it")
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    found = row[0] if row else None
    if not (str(found).isdigit() and 1 <= int(found)):
        raise HistoryError(f"{path}: not a claim history this rulesengine knows "
                           f"(schema_version {found!r}); nothing was written to it")
    if int(found) > version:
        raise HistoryError(f"{path}: history schema {found} is newer than this rulesengine "
                           f"reads ({version}); upgrade rulesengine")
    if int(found) == 1 and not create:  # lines recorded then have no units: read as unknown
        return _V1_LINE_COLUMNS  # read as it is: a check changes nothing
    if create:
        with db:
            if int(found) == 1:
                db.execute("ALTER TABLE claim_lines ADD COLUMN units REAL")
                db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))
            db.executescript(schema)  # indexes a history from an earlier version lacks
    return LINE_COLUMNS
