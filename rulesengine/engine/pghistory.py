"""The claim history in PostgreSQL, for several worker processes or hosts: the same
table, the same schema version rules and the same answers as the SQLite file.

Selected by a URL (``--history postgresql://user@host/db``). The tables live in a schema
of their own, ``rulesengine``, so a database shared with other programs keeps them apart;
``meta.schema_version`` is held to the rules SQLite's is (an unknown or newer version is
refused before anything is written; a check opens it only to read). A snapshot is one
``REPEATABLE READ READ ONLY`` transaction; a recording takes a transaction-scoped advisory
lock first, as SQLite's ``BEGIN IMMEDIATE`` takes the write lock, so two recordings never
interleave. psycopg 3 is imported only when a URL names PostgreSQL (the ``serve`` extra).
"""

from __future__ import annotations

import re

from .historyfile import LINE_COLUMNS, HistoryError

#: the advisory lock a recording holds: any fixed number, the same for every process
_RECORDING_LOCK = 0x72756C6573  # "rules"
_SCHEMA_NAME = "rulesengine"


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


class _Connection:
    """A psycopg connection in the shape ``TableHistory`` uses (sqlite3's): ``?``
    parameters, ``in_transaction``, and SQLite's two kinds of BEGIN."""

    def __init__(self, connection):
        from psycopg.pq import TransactionStatus
        self._connection = connection
        self._idle = TransactionStatus.IDLE

    def execute(self, sql: str, params=()):
        if sql == "BEGIN":
            sql = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
        elif sql == "BEGIN IMMEDIATE":
            self._connection.execute("BEGIN")
            return self._connection.execute("SELECT pg_advisory_xact_lock(%s)", (_RECORDING_LOCK,))
        return self._connection.execute(sql.replace("?", "%s"), params)

    def executemany(self, sql: str, rows) -> None:
        with self._connection.cursor() as cursor:
            cursor.executemany(sql.replace("?", "%s"), rows)

    @property
    def in_transaction(self) -> bool:
        return self._connection.info.transaction_status != self._idle

    def commit(self) -> None:
        self._connection.execute("COMMIT")

    def rollback(self) -> None:
        self._connection.execute("ROLLBACK")

    def close(self) -> None:
        self._connection.close()


def open_database(url: str, create: bool, schema: str, version: int) -> tuple[_Connection, str]:
    """A connection to the history at ``url`` and the columns to read its lines with."""
    try:
        import psycopg
    except ImportError:
        raise HistoryError("a postgresql:// history needs psycopg: pip install "
                           "'rulesengine[serve]'") from None
    try:
        raw = psycopg.connect(url, autocommit=True, connect_timeout=10,
                              options=f"-c search_path={_SCHEMA_NAME}")
    except psycopg.Error as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise HistoryError(f"{redacted(url)}: cannot connect to the claim history ({first})") from None
    db = _Connection(raw)
    try:
        found = raw.execute("SELECT to_regclass('rulesengine.meta') IS NOT NULL").fetchone()[0]
        if not found:
            if not create:
                raise HistoryError(f"{redacted(url)}: no claim history in this database (record "
                                   f"claims with 'rulesengine history add --history URL')")
            raw.execute(f"CREATE SCHEMA IF NOT EXISTS {_SCHEMA_NAME}")
            with raw.transaction():
                raw.execute(schema)
                raw.execute("INSERT INTO meta VALUES ('schema_version', %s)", (str(version),))
            return db, LINE_COLUMNS
        row = raw.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        value = row[0] if row else None
        if not (str(value).isdigit() and int(value) >= 2):
            raise HistoryError(f"{redacted(url)}: not a claim history this rulesengine knows "
                               f"(schema_version {value!r}); nothing was written to it")
        if int(value) > version:
            raise HistoryError(f"{redacted(url)}: history schema {value} is newer than this "
                               f"rulesengine reads ({version}); upgrade rulesengine")
        return db, LINE_COLUMNS
    except HistoryError:
        raw.close()
        raise
    except psycopg.Error as error:
        raw.close()
        raise HistoryError(f"{redacted(url)}: not a claim history ({error})") from None
