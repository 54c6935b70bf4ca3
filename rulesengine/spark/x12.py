"""X12 837 files read inside Spark: each file by the project's own 837 reader, on an executor.

Files come from Spark's ``binaryFile`` source (a file a row, read whole: an 837 file is
at most a few hundred MB, and its envelope must be read from its start), so each task reads
whole files and the files spread over the executors.
"""

from __future__ import annotations

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from . import worker
from .checking import Kept


def read_837(spark: SparkSession, path: str, *, pattern: str | None = None,
             persist: bool = True) -> ReadClaims:
    """``(claims, errors)`` of the X12 837P/837I files at ``path`` (a file, a folder read
    recursively, or a glob; ``pattern`` keeps file names matching it, such as ``"*.837"``).

    ``claims``: a row per claim, in the normalised shape (``schemas.CLAIM``, top-level
    columns) with ``source`` (the file) and ``position`` (the claim's place in it), ready
    for ``check_claims``. ``errors``: a row per envelope or claim problem, with the file,
    the segment number (``position``, unit ``segment``) and the message, as the CLI reports
    them; a file with no claims at all is an error too. Both come from one reading of the
    files, kept (``persist``) until ``unpersist()``."""
    reader = spark.read.format("binaryFile").option("recursiveFileLookup", "true")
    if pattern:
        reader = reader.option("pathGlobFilter", pattern)
    files = reader.load(path).select("path", "content")
    read = files.mapInArrow(worker.read_batches, worker.READ)
    if persist:
        read = read.persist(StorageLevel.MEMORY_AND_DISK)
    claims = read.where(F.col("error").isNull()).select("source", "position", "claim.*")
    errors = read.where(F.col("error").isNotNull()).select(
        "source", "position", "claim_id", "error.*", F.lit(None).cast("string").alias("input"))
    return ReadClaims((claims, errors), read)


class ReadClaims(Kept):
    """``(claims, errors)``, cut from ``kept``: the one reading of the files."""

    @property
    def claims(self) -> DataFrame:
        return self[0]

    @property
    def errors(self) -> DataFrame:
        return self[1]
