"""A day's claims checked in Spark, findings written as Parquet: the job a payer or a
clearinghouse runs where its claims already are (docs/spark.md).

    spark-submit examples/spark/check_day.py INPUT PACK [PACK...] OUTPUT
        [--input-format x12|jsonl|parquet] [--history PATH] [--partitions N]

INPUT is a folder (or glob) of X12 837 files (the default), of JSON Lines claims, or a
Parquet table of claims in the normalised shape (rulesengine.spark.CLAIM). Each PACK is a
pack folder on the driver; the packs travel to the executors as bytes. --history names a
Parquet table of earlier claim lines (rulesengine.spark.HISTORY_LINE) for packs with
frequency and duplicate rules. OUTPUT gets three Parquet folders: results (a row per claim
checked), findings (a row per finding) and errors (a row per claim or file not checked,
with the reason). Exits 0 when every claim was checked, 2 when some were not.
"""

from __future__ import annotations

import argparse
import sys
import time

from pyspark.sql import SparkSession

from rulesengine.spark import check_claims, read_837


def main(argv=None) -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("input")
    options.add_argument("packs", nargs="+", metavar="PACK")
    options.add_argument("output")
    options.add_argument("--input-format", choices=("x12", "jsonl", "parquet"), default="x12")
    options.add_argument("--history", help="a Parquet table of earlier claim lines")
    options.add_argument("--partitions", type=int, help="spread the claims over this many tasks")
    args = options.parse_args(argv)
    packs, output = args.packs, args.output
    spark = SparkSession.builder.appName("rulesengine check_day").getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    started = time.perf_counter()

    read_errors, read = None, None
    if args.input_format == "x12":
        read = read_837(spark, args.input)
        claims, read_errors = read
    elif args.input_format == "jsonl":
        claims = spark.read.text(args.input)
    else:
        claims = spark.read.parquet(args.input)
    if args.partitions:
        claims = claims.repartition(args.partitions)
    history = spark.read.parquet(args.history) if args.history else None

    checked = check_claims(claims, packs, history)
    results, findings, errors = checked
    if read_errors is not None:
        errors = read_errors.unionByName(errors)
    results.write.mode("overwrite").parquet(f"{output}/results")
    findings.write.mode("overwrite").parquet(f"{output}/findings")
    errors.write.mode("overwrite").parquet(f"{output}/errors")

    written = spark.read.parquet(f"{output}/results")
    statuses = dict(written.groupBy("status").count().collect())
    checked_count = sum(statuses.values())
    not_checked = spark.read.parquet(f"{output}/errors").count()
    finding_count = spark.read.parquet(f"{output}/findings").count()
    print(f"{checked_count:,} claims checked: {statuses.get('clean', 0):,} clean, "
          f"{statuses.get('review', 0):,} review, {statuses.get('denied', 0):,} denied; "
          f"{not_checked:,} not checked; {finding_count:,} findings in "
          f"{time.perf_counter() - started:.1f} s (packs made {checked.pack_loads.value} times "
          f"on the executors) -> {output}")
    checked.unpersist()
    if read is not None:
        read.unpersist()
    spark.stop()
    return 2 if not_checked else 0


if __name__ == "__main__":
    sys.exit(main())
