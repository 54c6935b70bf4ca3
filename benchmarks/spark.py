"""Benchmark: a day's claims checked inside Spark (``local[2]``) against ``rulesengine check
--jobs 2`` on the same claims, the same pack and the same two cores.

    python benchmarks/spark.py [--claims 1000000] [--pairs 60000] [--seed 7] [--batch 10000]

Generates the workload of ``run.py`` (a pack of payer policies and ``--claims`` claims as
JSON Lines) into a temporary folder, then:

* ``rulesengine check CLAIMS --pack P --format jsonl -o OUT --jobs 2`` as a process: wall
  time from start to exit (loading the pack from its cache included);
* Spark: the session's start-up and a first job of 2,000 claims (the Python workers
  start and make the packs: what any run pays once); then the job ``spark.read.text(CLAIMS)`` ->
  ``check_claims`` -> results, findings and errors written as Parquet (one check of each
  claim: the checked rows are kept between the three writes), timed from the job's first
  line to its last write;

and checks that both found the same number of findings and errors and that the packs were
made once per Python worker. It prints claims/s for each, the ratio Spark / CLI (the aim is
0.6x or better), the start-up cost, and the per-core rate ``docs/spark.md`` scales from.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import workload  # noqa: E402


def cli_run(claims: Path, pack: Path, out: Path) -> tuple[float, int, int]:
    """(wall seconds, findings, errors) of ``rulesengine check --jobs 2``."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "rulesengine", "check", str(claims), "--pack", str(pack),
                           "--format", "jsonl", "-o", str(out), "--jobs", "2"], capture_output=True)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1, 2):
        raise SystemExit(f"rulesengine check exited with {done.returncode}: {done.stderr[-2000:]!r}")
    findings = errors = 0
    with open(out, encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if "error" in record:
                errors += 1
            else:
                findings += len(record["findings"])
    return seconds, findings, errors


def spark_run(spark, claims: Path, pack: Path, out: Path) -> tuple[float, int, int, int]:
    """(wall seconds, findings, errors, pack loads) of the Spark job."""
    from rulesengine.spark import check_claims

    started = time.perf_counter()
    checked = check_claims(spark.read.text(str(claims)), pack)
    results, findings, errors = checked
    for name, frame in (("results", results), ("findings", findings), ("errors", errors)):
        frame.write.mode("overwrite").parquet(str(out / name))
    seconds = time.perf_counter() - started
    loads = checked.pack_loads.value
    checked.unpersist()
    counted = [spark.read.parquet(str(out / name)).count() for name in ("findings", "errors")]
    return seconds, counted[0], counted[1], loads


def first_job(spark, claims: Path, pack: Path) -> tuple[float, int]:
    """(wall seconds, pack loads) of a first small job: Spark starts its Python workers and
    they make the packs, once, as the first job of any run does."""
    from rulesengine.spark import check_claims

    started = time.perf_counter()
    checked = check_claims(spark.read.text(str(claims)).limit(2000).repartition(2), pack, persist=False)
    checked.kept.write.format("noop").mode("overwrite").save()
    return time.perf_counter() - started, checked.pack_loads.value


def main(argv=None) -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--claims", type=int, default=1_000_000)
    options.add_argument("--pairs", type=int, default=60_000)
    options.add_argument("--seed", type=int, default=7)
    options.add_argument("--batch", type=int, default=10_000, help="Arrow batch: claims a batch")
    args = options.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="rulesengine-spark-"))
    try:
        spec = workload.build_spec(args.seed, args.pairs)
        pack = workload.write_pack(spec, folder / "pack")
        claims = folder / "claims.jsonl"
        count = workload.write_claims(workload.claim_dicts(spec, args.claims, args.seed), claims)
        print(f"workload: {spec.rule_count} rules, {count:,} claims, "
              f"{claims.stat().st_size / 1e6:.0f} MB of JSON Lines; {os.cpu_count()} cores")
        # the pack cache filled first, as a second run of the day finds it, for both
        subprocess.run([sys.executable, "-m", "rulesengine", "compile", str(pack)], check=True,
                       capture_output=True)

        cli_seconds, cli_findings, cli_errors = cli_run(claims, pack, folder / "cli.jsonl")
        print(f"  rulesengine check --jobs 2: {cli_seconds:.1f} s, {count / cli_seconds:,.0f} claims/s "
              f"({cli_findings:,} findings, {cli_errors:,} errors)")

        os.environ["PYSPARK_PYTHON"] = os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
        started = time.perf_counter()
        from pyspark.sql import SparkSession
        spark = (SparkSession.builder.master("local[2]").appName("rulesengine-benchmark")
                 .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
                 .config("spark.driver.memory", "4g")
                 .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(args.batch))
                 .getOrCreate())
        spark.sparkContext.setLogLevel("ERROR")
        session = time.perf_counter() - started
        warm_up, first_loads = first_job(spark, claims, pack)
        spark_seconds, findings, errors, loads = spark_run(spark, claims, pack, folder / "spark")
        spark.stop()
        if (findings, errors) != (cli_findings, cli_errors):
            raise SystemExit(f"Spark found {findings:,} findings and {errors:,} errors, the CLI "
                             f"{cli_findings:,} and {cli_errors:,}")
        rate = count / spark_seconds
        print(f"  Spark local[2]:             {spark_seconds:.1f} s, {rate:,.0f} claims/s "
              f"(same {findings:,} findings, {errors:,} errors)")
        print(f"  Spark start-up: {session:.1f} s for the session (the JVM), {warm_up:.1f} s for a "
              f"first job of 2,000 claims (Python workers started, packs made {first_loads} times); "
              f"packs made {loads} more times in the day's job")
        start_up = session + warm_up
        print(f"  ratio Spark / CLI: {cli_seconds / spark_seconds:.2f}x the CLI's claims/s "
              f"({cli_seconds / (spark_seconds + start_up):.2f}x with the start-up)")
        print(f"  per core: {rate / 2:,.0f} claims/s in Spark, {count / cli_seconds / 2:,.0f} in the CLI")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
