"""Claims checked inside Spark: a DataFrame of claims in, results, findings and errors out.

The driver loads the packs (a broken pack fails here, with every problem, before any task
runs), sends each as bytes in a broadcast variable, and maps the claims through
``worker.check_batches`` in Arrow batches; no claim comes back to the driver. The history
that frequency and duplicate rules read is a DataFrame of earlier claim lines, grouped by
member and joined to the claims by member id inside Spark, so each claim arrives with its
member's lines.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructType

from rulesengine.packs import CompiledPack, PackSet
from rulesengine.packs.cache import load_cached, pack_bytes

from . import worker
from .schemas import CLAIM, HISTORY_LINE

PackLike = str | Path | CompiledPack
_HISTORY_FIELDS = [f.name for f in HISTORY_LINE.fields]


class Kept(tuple):
    """DataFrames cut from one, ``kept``: persisted when made, so that writing every one of
    them computes it once. Call ``unpersist()`` when they are written."""

    def __new__(cls, frames: tuple[DataFrame, ...], kept: DataFrame):
        made = super().__new__(cls, frames)
        made.kept = kept
        return made

    def unpersist(self) -> None:
        self.kept.unpersist()


class CheckedClaims(Kept):
    """``(results, findings, errors)``, cut from ``kept``: a row per claim read.
    ``pack_loads.value``: how many times executors made the packs (one a Python worker)."""

    @property
    def results(self) -> DataFrame:
        return self[0]

    @property
    def findings(self) -> DataFrame:
        return self[1]

    @property
    def errors(self) -> DataFrame:
        return self[2]


def check_claims(df: DataFrame, packs: PackLike | PackSet | Iterable[PackLike],
                 history: DataFrame | None = None, *, column: str | None = None,
                 persist: bool = True) -> CheckedClaims:
    """Check each claim of ``df`` against ``packs`` (pack folders, compiled packs or a
    PackSet: each claim goes to the pack of its payer, as in the CLI).

    ``df`` holds the claims as JSON text (a string column: ``column``, else the only one,
    as ``spark.read.text`` gives) or in the normalised shape (``schemas.CLAIM``: top-level
    columns ``claim_id``, ``lines``..., or a struct column named by ``column``). Columns
    ``source`` and ``position``, when there, say where each claim came from (``read_837``
    gives them); otherwise the file a row was read from. ``history``: earlier claim lines
    (``schemas.HISTORY_LINE``; ``history_lines`` makes them from claims) for the packs'
    frequency and duplicate rules, needed when a pack has such rules.

    Returns ``(results, findings, errors)``: a row per claim checked, a row per finding,
    a row per claim not checked (unreadable, no pack for its payer, an internal error) with
    the reason and the text it was read from; ``results + errors`` counts every claim read.
    """
    pack_set = _pack_set(packs)
    needing = [p for p in pack_set.packs if p.history_rules]
    if needing and history is None:  # answering would pass every such rule
        raise ValueError(f"pack {needing[0].id} has rules that read the claim history "
                         f"({', '.join(needing[0].history_rules)}): pass history=DataFrame of "
                         f"earlier claim lines (rulesengine.spark.history_lines makes one from claims)")
    claim, json_text, member = _claim_column(df, column)
    source = F.col("source").cast("string") if "source" in df.columns else F.input_file_name()
    position = F.col("position").cast("long") if "position" in df.columns else F.lit(None).cast("long")
    framed = df.select(claim.alias("_claim"), F.nullif(source, F.lit("")).alias("_source"),
                       position.alias("_position"), member.alias("_member"))
    if history is not None:
        grouped = (_history_columns(history)
                   .groupBy(F.col("member_id").alias("_member"))
                   .agg(F.collect_list(F.struct(*_HISTORY_FIELDS)).alias("_history")))
        framed = framed.join(grouped, "_member", "left")
    framed = framed.drop("_member")
    shipped = ship(df.sparkSession, pack_set)
    check = functools.partial(worker.check_batches, shipped=shipped, json_text=json_text)
    checked = framed.mapInArrow(check, worker.CHECKED)
    if persist:
        checked = checked.persist(StorageLevel.MEMORY_AND_DISK)
    made = CheckedClaims((_results(checked), _findings(checked), _errors(checked)), checked)
    made.pack_loads = shipped.loads
    return made


def ship(spark, packs: PackSet) -> worker.Shipped:
    """The packs in broadcast variables, each the bytes of ``pack_bytes``."""
    context = spark.sparkContext
    return worker.Shipped(tuple(p.info.hash for p in packs.packs),
                          tuple(context.broadcast(pack_bytes(p)) for p in packs.packs),
                          context.accumulator(0))


def _pack_set(packs) -> PackSet:
    if isinstance(packs, PackSet):
        return packs
    if isinstance(packs, (str, Path, CompiledPack)):
        packs = [packs]
    return PackSet([p if isinstance(p, CompiledPack) else load_cached(p) for p in packs])


def _claim_column(df: DataFrame, column: str | None) -> tuple[Column, bool, Column]:
    """(the claim, whether it is JSON text, the member id to join the history by)."""
    types = {f.name: f.dataType for f in df.schema.fields}
    if column is None and {"claim_id", "lines"} <= types.keys():
        names = [f.name for f in CLAIM.fields if f.name in types]
        return (F.struct(*names), False, F.col("patient.member_id").cast("string")
                if "patient" in types else F.lit(None).cast("string"))
    if column is None:
        text = [name for name, kind in types.items() if isinstance(kind, StringType) and name != "source"]
        if len(text) != 1:
            raise ValueError(
                "cannot tell which column holds the claims: give column= (a string column of "
                "claim JSON, or a struct column in rulesengine.spark.CLAIM's shape), or give "
                f"the claims as top-level columns claim_id, lines...; the columns: {', '.join(types)}")
        column = text[0]
    if column not in types:
        raise ValueError(f"no column {column!r}; the columns: {', '.join(types)}")
    kind = types[column]
    if isinstance(kind, StringType):
        return F.col(column), True, F.get_json_object(F.col(column), "$.patient.member_id")
    if isinstance(kind, StructType):
        names = [f.name for f in kind.fields]
        member = (F.col(f"{column}.patient.member_id").cast("string") if "patient" in names
                  else F.lit(None).cast("string"))
        return F.col(column), False, member
    raise ValueError(f"column {column!r} is {kind.simpleString()}: claims are JSON text or a struct "
                     f"in rulesengine.spark.CLAIM's shape")


def _history_columns(history: DataFrame) -> DataFrame:
    """The history's columns as ``HISTORY_LINE`` has them (a column it lacks is null)."""
    have = set(history.columns)
    for name in ("member_id", "claim_id", "procedure", "service_date"):
        if name not in have:
            raise ValueError(f"the history has no {name!r} column; a history line has "
                             f"{', '.join(_HISTORY_FIELDS)} (rulesengine.spark.HISTORY_LINE)")
    return history.select(*[(F.col(f.name) if f.name in have else F.lit(None)).cast(f.dataType).alias(f.name)
                            for f in HISTORY_LINE.fields])


def _results(checked: DataFrame) -> DataFrame:
    return checked.where(F.col("error").isNull()).select(
        "claim_id", "status", F.size("findings").alias("finding_count"), "pack_id",
        "pack_version", "pack_hash", "warnings", "source", "position")


def _findings(checked: DataFrame) -> DataFrame:
    return (checked.where(F.col("error").isNull())
            .select("claim_id", "pack_id", "pack_version", "pack_hash", "source", "position",
                    F.posexplode("findings").alias("finding", "f"))
            .select("claim_id", (F.col("finding") + 1).alias("finding"), "f.*",
                    "pack_id", "pack_version", "pack_hash", "source", "position"))


def _errors(checked: DataFrame) -> DataFrame:
    return checked.where(F.col("error").isNotNull()).select(
        "source", "position", "claim_id", "error.*", "input")


def history_lines(claims: DataFrame, *, column: str | None = None) -> DataFrame:
    """The lines of earlier claims (in any shape ``check_claims`` reads) as the history
    rules read them (``HISTORY_LINE``), as ``rulesengine history add`` records them: lines
    with a procedure of claims with a member id, a void (frequency code 8) removing every
    line of its claim id, a replacement (7) standing in for the other claims of its id.
    Claims that cannot be read are left out (``check_claims`` says why)."""
    claim, json_text, _ = _claim_column(claims, column)
    read = functools.partial(worker.history_batches, json_text=json_text)
    lines = claims.select(claim.alias("_claim")).mapInArrow(read, HISTORY_LINE)
    voided = lines.where(F.col("frequency_code") == "8").select("claim_id").distinct()
    by_claim = Window.partitionBy("claim_id")
    replaced = F.max((F.col("frequency_code") == "7").cast("int")).over(by_claim)
    return (lines.where(F.col("procedure").isNotNull())
            .join(voided, "claim_id", "left_anti")
            .withColumn("_replaced", replaced)
            .where((F.col("_replaced") == 0) | (F.col("frequency_code") == "7"))
            .select(*_HISTORY_FIELDS))
