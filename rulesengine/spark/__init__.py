"""The spark room: claims checked inside Apache Spark (docs/spark.md), for a day's claims
past what one machine's cores can do. Needs the ``spark`` extra (PySpark 4).

``check_claims(df, packs, history=None)`` gives ``(results, findings, errors)`` DataFrames
for a DataFrame of claims, as JSON text or in the normalised shape (``CLAIM``, made from
claim.schema.json); ``read_837(spark, path)`` reads X12 files on the executors with the
project's 837 reader; ``history_lines(claims)`` makes the history frequency and duplicate
rules read (``HISTORY_LINE``) from earlier claims. ``checking`` is the driver's side,
``worker`` what runs in Spark's Python workers, ``x12`` the files, ``schemas`` the shapes.

May import: ``rulesengine.packs`` and below. Nothing in rulesengine imports it.
"""

from .checking import CheckedClaims, check_claims, history_lines
from .schemas import CHECKED, CLAIM, ERROR, FINDING, HISTORY_LINE
from .x12 import ReadClaims, read_837

__all__ = ["CHECKED", "CLAIM", "ERROR", "FINDING", "HISTORY_LINE", "CheckedClaims", "ReadClaims", "check_claims",
           "history_lines", "read_837"]
