"""Claims checked inside Spark (local[2]): the same findings as ``rulesengine check --format
jsonl``, every claim a result or an error, the history joined by member with the SQLite
history's answers, X12 files read on the executors, and the example job run by
spark-submit. Skipped, saying why, only without PySpark or Java."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pyspark", reason="the spark extra (PySpark) is not installed")
import spark_session  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402
from test_history import claim_data  # noqa: E402

from rulesengine import PackError  # noqa: E402
from rulesengine.spark import CLAIM, check_claims, history_lines, read_837  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MEDICARE, ACME = ROOT / "payer_rules" / "medicare", ROOT / "payer_rules" / "acme-commercial"
FREQUENCY = ROOT / "payer_rules" / "medicare-frequency"
X12 = ROOT / "tests" / "fixtures" / "x12"


@pytest.fixture(scope="module")
def spark():
    missing = spark_session.java_missing()
    if missing:
        pytest.skip(missing)
    # small Arrow batches, so a partition's claims cross several of them
    session = spark_session.start(batch=5)
    yield session
    session.stop()


def example_claims() -> list[dict]:
    claims = []
    for name in ("clean.json", "dirty.json", "acme.json", "malformed.json"):
        data = json.loads((ROOT / "examples" / "claims" / name).read_text())
        claims += data if isinstance(data, list) else data["claims"]
    return claims


@pytest.fixture(scope="module")
def claims_file(tmp_path_factory) -> Path:
    """The example claims as JSON Lines, with a line that is not JSON and a claim of a
    payer no pack takes."""
    path = tmp_path_factory.mktemp("claims") / "day.jsonl"
    lines = [json.dumps(c) for c in example_claims()]
    stranger = {**example_claims()[0], "claim_id": "AETNA-1", "payer": {"id": "aetna"}}
    lines[5:5] = ['{"claim_id": "CUT-OFF", "lines": [', json.dumps(stranger)]
    path.write_text("\n".join(lines) + "\n")
    return path


def cli(*args: str) -> tuple[list[dict], list[dict]]:
    """(results, errors) of ``rulesengine check ... --format jsonl``, results in claim id order."""
    done = subprocess.run([sys.executable, "-m", "rulesengine", "check", *args, "--format", "jsonl"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 1, 2), done.stderr
    results, errors = [], []
    for line in done.stdout.splitlines():
        record = json.loads(line)
        (errors.append(record["error"]) if "error" in record else results.append(record))
    return ordered(results), errors


def ordered(results: list[dict]) -> list[dict]:
    return sorted(results, key=lambda r: (r["claim_id"], json.dumps(r, sort_keys=True)))


def by_id(results: list[dict]) -> dict[str, dict]:
    found = {r["claim_id"]: r for r in results}
    assert len(found) == len(results), "claim ids repeat"
    return found


def as_cli(checked) -> tuple[list[dict], list[dict]]:
    """The Spark frames put back in the CLI's JSON shape: a result per claim, its findings
    in order; and the errors."""
    results, findings, errors = checked
    out = {}
    for row in results.collect():  # where a claim was read tells apart claims of one id
        out[row.source, row.position, row.claim_id] = {
            "claim_id": row.claim_id, "status": row.status,
            "pack": {"id": row.pack_id, "version": row.pack_version, "hash": row.pack_hash},
            "findings": [None] * row.finding_count, **({"warnings": row.warnings} if row.warnings else {})}
    for f in findings.collect():
        out[f.source, f.position, f.claim_id]["findings"][f.finding - 1] = {
            "rule_id": f.rule_id, "category": f.category, "severity": f.severity, "scope": f.scope,
            "line_number": f.line_number, "group_code": f.group_code, "carc": f.carc,
            "rarc": list(f.rarc), "message": f.message, "evidence": json.loads(f.evidence),
            "source": {"pack": f.rule_pack, "file": f.rule_file, "line": f.rule_line},
            "citation": f.citation}
    return ordered(list(out.values())), [row.asDict() for row in errors.collect()]


def said(errors: list[dict]) -> list[tuple]:
    return sorted((e["claim_id"] or "", e["kind"], e["path"], e["message"]) for e in errors)


def test_findings_are_the_clis_on_the_same_claims(spark, claims_file):
    expected, expected_errors = cli(str(claims_file), "--pack", str(MEDICARE), "--pack", str(ACME))
    spark.conf.set("spark.sql.files.maxPartitionBytes", "8k")  # the file read by several tasks
    try:
        day = spark.read.text(str(claims_file))
        assert day.rdd.getNumPartitions() > 2
        checked = check_claims(day, [MEDICARE, ACME])
        found, errors = as_cli(checked)
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    assert any(r["findings"] for r in expected)
    assert found == expected
    assert said(errors) == said(expected_errors)
    assert {e["kind"] for e in errors} == {"unreadable", "no-pack"}
    # a row not read keeps the text it was read from, and says the file it came from
    cut = next(e for e in errors if e["message"].startswith("not valid JSON"))
    assert cut["input"] == '{"claim_id": "CUT-OFF", "lines": [' and cut["source"].endswith("day.jsonl")
    checked.unpersist()


def test_every_claim_read_is_a_result_or_an_error_and_the_packs_are_made_once_a_worker(
        spark, claims_file, tmp_path):
    # a pack no worker has made yet (Spark's Python workers outlive a job, and keep theirs)
    shutil.copytree(MEDICARE, tmp_path / "medicare")
    fresh = tmp_path / "acme-commercial"
    shutil.copytree(ACME, fresh)
    with open(fresh / "filing.rules", "a") as rules:
        rules.write(f"\n# {tmp_path.name}\n")
    rows = [line for line in claims_file.read_text().splitlines()] * 25
    day = spark.createDataFrame([(line,) for line in rows], "claim string").repartition(8)
    checked = check_claims(day, [tmp_path / "medicare", fresh])
    results, findings, errors = checked
    assert results.count() + errors.count() == day.count() == len(rows)
    assert errors.count() == 3 * 25
    # eight tasks on two cores: the packs were made by each Python worker once, not per task
    assert 1 <= checked.pack_loads.value <= 2
    checked.unpersist()


def test_claims_in_the_normalised_shape_check_as_their_json_does(spark, claims_file, tmp_path):
    valid = [c for c in example_claims() if c["claim_id"] != "BAD-SERVICE-DATE"]
    path = tmp_path / "valid.jsonl"
    path.write_text("\n".join(json.dumps(c) for c in valid) + "\n")
    as_text, _ = as_cli(check_claims(spark.read.text(str(path)), [MEDICARE, ACME]))
    table = spark.read.schema(CLAIM).json(str(path))  # dates as dates, units as doubles
    assert dict(table.dtypes)["received_date"] == "date"
    as_table, errors = as_cli(check_claims(table, [MEDICARE, ACME]))
    assert errors == [] and as_table == as_text
    # or as one struct column beside other columns
    nested = table.select(F.struct(*table.columns).alias("claim"), F.lit("x").alias("batch"))
    as_struct, _ = as_cli(check_claims(nested, [MEDICARE, ACME], column="claim"))
    assert as_struct == as_text


def test_the_claim_schema_is_made_from_the_json_schema():
    from rulesengine.claims import CLAIM_SCHEMA
    assert [f.name for f in CLAIM.fields] == list(CLAIM_SCHEMA["properties"])
    lines = CLAIM["lines"].dataType.elementType
    assert [f.name for f in lines.fields] == list(CLAIM_SCHEMA["$defs"]["line"]["properties"])
    assert lines["service_date"].dataType.typeName() == "date"
    assert lines["units"].dataType.typeName() == "double"
    assert lines["diagnosis_pointers"].dataType.simpleString() == "array<bigint>"
    assert CLAIM["patient"].dataType["birth_date"].dataType.typeName() == "date"


def test_x12_files_read_on_the_executors_give_the_clis_claims_and_errors(spark):
    expected, expected_errors = cli(str(X12), "--pack", str(MEDICARE))
    read = read_837(spark, str(X12), pattern="*.{837p,837i,x12}")  # the claim files, as the CLI
    claims, read_errors = read
    checked = check_claims(claims, MEDICARE)
    found, errors = as_cli(checked)
    assert found == expected and len(found) >= 4
    errors = [row.asDict() for row in read_errors.collect()] + errors
    assert errors and all(e["unit"] == "segment" for e in errors)

    def where(e):  # the CLI names a file as given, Spark by its URL
        return Path(e["source"]).name, e["position"], e["message"]
    assert sorted(map(where, errors)) == sorted(map(where, expected_errors))
    assert "X12" not in str(read.kept)  # nothing collected: a lazy plan
    read.unpersist()


def test_a_file_with_no_claims_is_an_error_row(spark, tmp_path):
    # a file of blank lines (an empty one Spark's file sources skip), and one not X12 at all
    (tmp_path / "nothing.837").write_text("\n\n")
    (tmp_path / "notes.txt").write_text("claims follow tomorrow\n")
    shutil.copy(X12 / "professional-two-claims.837p", tmp_path)
    claims, errors = read_837(spark, str(tmp_path))
    assert claims.count() == 2
    told = {Path(e.source).name: e.message for e in errors.collect()}
    assert told["nothing.837"] == "the file holds no claims"
    assert told["notes.txt"].startswith("expected an ISA segment")
    # only the files a pattern names
    claims, errors = read_837(spark, str(tmp_path), pattern="*.837p")
    assert claims.count() == 2 and errors.count() == 0


EARLIER = [claim_data("AWV-2025", ("G0439", "2025-09-10")),
           claim_data("IPPE-2025", ("G0402", "2025-03-01"), member="1EG4TE5MK74"),
           claim_data("DUP-1", ("99213", "2026-02-02")),
           claim_data("VOIDED", ("G0439", "2025-12-01"), member="1EG4TE5MK75"),
           claim_data("VOIDED", ("G0439", "2025-12-01"), member="1EG4TE5MK75", frequency="8"),
           claim_data("FIXED", ("G0439", "2025-11-20"), member="1EG4TE5MK76"),
           claim_data("FIXED", ("99213", "2025-11-20"), member="1EG4TE5MK76", frequency="7")]
LATER = [claim_data("AWV-2026", ("G0439", "2026-07-01")), claim_data("AWV-2026-OK", ("G0439", "2026-10-01")),
         claim_data("AWV-OTHER", ("G0439", "2026-02-01"), member="1EG4TE5MK74"),
         claim_data("DUP-2", ("99213", "2026-02-02")),
         claim_data("AFTER-VOID", ("G0439", "2026-06-01"), member="1EG4TE5MK75"),
         claim_data("AFTER-FIX", ("G0439", "2026-06-01"), ("99213", "2025-11-20"), member="1EG4TE5MK76"),
         claim_data("NO-MEMBER", ("G0439", "2026-06-01"), member=None)]


def test_the_history_joined_by_member_gives_the_sqlite_historys_answers(spark, tmp_path):
    earlier, later = tmp_path / "earlier.jsonl", tmp_path / "later.jsonl"
    earlier.write_text("".join(json.dumps(c) + "\n" for c in EARLIER))
    later.write_text("".join(json.dumps(c) + "\n" for c in LATER))
    database = tmp_path / "history.sqlite"
    subprocess.run([sys.executable, "-m", "rulesengine", "history", "add", str(earlier), "--history",
                    str(database)], check=True, capture_output=True, timeout=120)
    expected, expected_errors = cli(str(later), "--pack", str(FREQUENCY), "--history", str(database))
    history = history_lines(spark.read.text(str(earlier)))
    assert sorted(r.claim_id for r in history.select("claim_id").distinct().collect()) == [
        "AWV-2025", "DUP-1", "FIXED", "IPPE-2025"]
    assert [r.procedure for r in history.where("claim_id = 'FIXED'").collect()] == ["99213"]
    found, errors = as_cli(check_claims(spark.read.text(str(later)).repartition(2), FREQUENCY, history))
    assert found == expected and errors == expected_errors == []
    fired = {r["claim_id"]: [f["rule_id"] for f in r["findings"]] for r in found if r["findings"]}
    assert "AWV-2026" in fired and "DUP-2" in fired and "AFTER-FIX" in fired
    assert "AFTER-VOID" not in fired


def test_a_history_table_of_its_own_shape_is_read_by_its_column_names(spark):
    history = spark.createDataFrame(
        [("1EG4TE5MK73", "AWV-2025", "G0439", "2025-09-10", "1234567893")],
        "member_id string, claim_id string, procedure string, service_date string, billing_npi string")
    later = spark.createDataFrame([(json.dumps(LATER[0]),)], "claim string")
    found, _ = as_cli(check_claims(later, FREQUENCY, history))
    assert [f["rule_id"] for f in by_id(found)["AWV-2026"]["findings"]] == ["FREQ-AWV-SUBSEQUENT"]


def test_a_pack_that_reads_the_history_needs_one(spark):
    day = spark.createDataFrame([(json.dumps(LATER[0]),)], "claim string")
    with pytest.raises(ValueError, match="medicare-frequency has rules that read the claim history .*history=DataFrame"):
        check_claims(day, FREQUENCY)


def test_a_broken_pack_fails_on_the_driver_with_its_problems(spark, tmp_path):
    shutil.copytree(MEDICARE, tmp_path / "medicare")
    broken = tmp_path / "acme-commercial"
    shutil.copytree(ACME, broken)
    (broken / "filing.rules").write_text("rule X:\n  when nonsense\n")
    day = spark.createDataFrame([("{}",)], "claim string")
    with pytest.raises(PackError, match=r"filing.rules:1:7: syntax"):
        check_claims(day, broken)


def test_columns_it_cannot_read_as_claims_are_refused_in_words(spark):
    two = spark.createDataFrame([("a", "b")], "one string, two string")
    with pytest.raises(ValueError, match="cannot tell which column holds the claims"):
        check_claims(two, MEDICARE)
    with pytest.raises(ValueError, match="column 'n' is bigint"):
        check_claims(spark.range(1).withColumnRenamed("id", "n"), MEDICARE, column="n")


def test_the_example_job_writes_the_clis_findings_as_parquet(tmp_path):
    if spark_session.java_missing():
        pytest.skip(spark_session.java_missing())
    submit = Path(sys.executable).with_name("spark-submit")
    if not submit.exists():
        pytest.skip("spark-submit is not beside this Python (PySpark installed elsewhere)")
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    out = tmp_path / "out"
    files = ROOT / "examples" / "x12"
    done = subprocess.run([str(submit), "--master", "local[2]", str(ROOT / "examples" / "spark" / "check_day.py"),
                           str(files), str(MEDICARE), str(out)], capture_output=True, text=True,
                          env=env, timeout=600)
    assert done.returncode == 2, done.stderr[-3000:]  # a claim of the examples is unreadable
    import pyarrow.parquet as pq
    findings = pq.read_table(out / "findings").to_pylist()
    expected, expected_errors = cli(str(files), "--pack", str(MEDICARE))
    assert {f["rule_id"] for f in findings} == {"MN-VITD-82306", "NCCI-PTP"}
    assert sorted((f["claim_id"], f["finding"], f["rule_id"], f["line_number"], f["carc"]) for f in findings) == sorted(
        (c, n, f["rule_id"], f["line_number"], f["carc"])
        for r in expected for n, f in enumerate(r["findings"], 1) for c in [r["claim_id"]])
    assert pq.read_table(out / "results").num_rows == len(expected) == 4
    [error] = pq.read_table(out / "errors").to_pylist()
    assert (error["claim_id"], error["position"], error["message"]) == (
        "X12-BAD-DATE", 30, expected_errors[0]["message"])
    assert done.stdout.startswith("4 claims checked: 2 clean, 0 review, 2 denied; 1 not checked; 2 findings")

