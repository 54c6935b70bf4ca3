"""The reports room: results written for people and programs, and the files they go to.

One module a format: ``text`` (the default, for a terminal or a file), ``json`` (a document
and JSON Lines), ``csv`` (a row per finding) and ``html`` (a one-page summary with charts);
``summary`` and ``tally`` are the counts they share, ``progress`` the bar on a terminal and
``atomic`` files that appear whole or not at all. Every writer takes results one at a time
(``result``, ``error``, then ``close`` with the ``Summary``), so memory stays flat.

May import: ``rulesengine.packs`` and every room below it. Imported by authoring, cms and cli.
"""

from .csv import CsvWriter
from .html import HtmlWriter
from .json import JsonLinesWriter, JsonWriter
from .summary import Summary
from .text import TextWriter

#: every writer by the name ``--format`` takes
WRITERS = {"text": TextWriter, "json": JsonWriter, "jsonl": JsonLinesWriter, "csv": CsvWriter,
           "html": HtmlWriter}

__all__ = ["WRITERS", "CsvWriter", "HtmlWriter", "JsonLinesWriter", "JsonWriter", "Summary", "TextWriter"]
