"""Attacks on reading and checking claims, as an untrusted sender would make them.

Each attack is one bad claim (or file) in a batch of good ones; each test asserts the
exit code, the positioned message, and that every claim in is either checked or
reported (``checked + reported == claims in``): one bad claim never costs the batch.
Inputs are generated here, at test time; nothing large is kept in git.
"""

from __future__ import annotations

import copy
import io
import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import corpus
from rulesengine.cli import main

ROOT = Path(__file__).resolve().parents[1]
MEDICARE = str(ROOT / "payer_rules" / "medicare")
ACME = str(ROOT / "payer_rules" / "acme-commercial")
X12 = ROOT / "tests" / "fixtures" / "x12" / "professional-two-claims.837p"
CSV = ROOT / "tests" / "fixtures" / "csv" / "practice_export.csv"


def good(claim_id: str) -> dict:
    return corpus.claim_data([{"procedure": "82306", "service_date": "2026-01-15",
                               "diagnosis_pointers": [1]}], claim_id=claim_id)


def check(*args, stdin: bytes | None = None, fmt: str = "json"):
    return CliRunner().invoke(main, ["check", *map(str, args), "--pack", MEDICARE,
                                     "--format", fmt], input=stdin)


def accounted(result) -> tuple[int, int]:
    """(claims checked, claims reported not checked) in a JSON report."""
    report = json.loads(result.stdout)
    return len(report["results"]), len(report["errors"])


def errors(result) -> list[dict]:
    return json.loads(result.stdout)["errors"]


# ---- 1. one bad claim never costs the batch ---------------------------------------------------

@pytest.mark.parametrize("day", ["0000-01-01", "9999-12-31", "1799-12-31", "2200-01-01", "2026-02-30"])
def test_a_date_off_the_claim_calendar_costs_only_its_claim(tmp_path, day):
    bad = good("BAD")
    bad["lines"][0]["service_date"] = day
    path = tmp_path / "day.json"
    path.write_text(json.dumps([good("C1"), bad, good("C3")]))
    result = check(path)
    assert result.exit_code == 2
    [error] = errors(result)
    assert (error["position"], error["claim_id"], error["path"]) == (2, "BAD", "$.lines[0].service_date")
    assert accounted(result) == (2, 1)


def test_year_0_is_refused_by_the_fast_validator_as_by_the_slow_one():
    from rulesengine.claims.build import validate_claim
    bad = good("BAD")
    bad["received_date"] = "0000-01-01"
    assert validate_claim(bad) and validate_claim(bad)[0][0] == "$.received_date"


def test_an_x12_date_of_year_0_costs_only_its_claim(tmp_path):
    text = X12.read_text().replace("DTP*472*D8*20260115", "DTP*472*D8*00000101", 1)
    path = tmp_path / "day0.837p"
    path.write_text(text)
    result = check(path)
    assert result.exit_code == 2
    [error] = errors(result)
    assert error["claim_id"] == "VITD-1001" and "date" in error["message"]
    assert accounted(result) == (1, 1)


def test_a_csv_date_of_year_9999_costs_only_its_claim(tmp_path):
    lines = CSV.read_text().splitlines()
    lines[1] = lines[1].replace("01/15/2026", "12/31/9999", 1)
    path = tmp_path / "far.csv"
    path.write_text("\n".join(lines) + "\n")
    claims_in = len({line.split(",")[0] for line in lines[1:]})
    result = check(path)
    assert result.exit_code == 2
    [error] = errors(result)
    assert error["claim_id"] == "C1001" and "outside the years 1800 to 2199" in error["message"]
    assert sum(accounted(result)) == claims_in


def test_a_fhir_date_of_year_0_costs_only_its_claim(tmp_path):
    claim = json.loads((ROOT / "tests" / "fixtures" / "fhir" / "claim.json").read_text())
    bad = copy.deepcopy(claim)
    bad["identifier"][0]["value"] = "FHIR-BAD"
    bad["item"][0]["servicedDate"] = "0000-01-01"
    path = tmp_path / "claims.ndjson"
    path.write_text(json.dumps(claim) + "\n" + json.dumps(bad) + "\n")
    result = check(path)
    assert result.exit_code == 2
    [error] = errors(result)
    assert error["claim_id"] == "FHIR-BAD" and error["position"] == 2
    assert accounted(result) == (1, 1)


def test_a_byte_that_is_not_utf8_costs_only_its_claim_in_a_file_and_on_stdin(tmp_path):
    lines = [json.dumps(good(f"C{i}")).encode() for i in range(1, 4)]
    lines[1] = lines[1].replace(b'"claim_id": "C2"', b'"claim_id": "C\xff2"')
    data = b"\n".join(lines) + b"\n"
    path = tmp_path / "bad.jsonl"
    path.write_bytes(data)
    for result in (check(path), check("-", stdin=data)):
        assert result.exit_code == 2
        [error] = errors(result)
        assert error["position"] == 2 and "not UTF-8" in error["message"]
        assert accounted(result) == (2, 1)


def test_json_nested_100000_deep_costs_only_its_item(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" + json.dumps(good("C1")) + "," + "[" * 100_000 + "]" * 100_000 + ","
                    + json.dumps(good("C3")) + "]")
    result = check(path)
    assert result.exit_code == 2
    [error] = errors(result)
    assert error["position"] == 2 and "nested too deep" in error["message"]
    assert accounted(result) == (2, 1)


def test_random_bytes_are_one_clear_error_not_a_crash(tmp_path):
    noise = bytes((i * 131 + 7) % 256 for i in range(20_000))
    for name in ("noise.json", "noise.jsonl", "noise.837p", "noise.csv", "noise.dat"):
        path = tmp_path / name
        path.write_bytes(noise)
        result = check(path)
        assert result.exit_code == 2, (name, result.output)
        assert "Traceback" not in result.output and "internal error" not in result.output
    result = check("-", stdin=noise)
    assert result.exit_code == 2 and "internal error" not in result.output


# ---- 2. nothing silently dropped or accepted ----------------------------------------------------

def test_content_after_the_list_is_an_error_not_ignored(tmp_path):
    path = tmp_path / "two.json"
    path.write_text(json.dumps([good("C1")]) + "\n" + json.dumps([good("C2")]))
    result = check(path)
    assert result.exit_code == 2
    assert "line 2, column 1: content after the end of the list" in result.stderr


def test_an_empty_file_is_an_error(tmp_path):
    path = tmp_path / "empty.json"
    path.write_text("")
    result = check(path)
    assert result.exit_code == 2 and "the file is empty" in result.stderr


def test_an_empty_list_is_a_warning(tmp_path):
    path = tmp_path / "none.json"
    path.write_text("[]")
    result = check(path)
    assert result.exit_code == 0 and f"warning: {path} holds no claims" in result.stderr


def test_a_fhir_file_of_another_resource_is_an_error(tmp_path):
    path = tmp_path / "patient.json"
    path.write_text(json.dumps({"resourceType": "Patient", "id": "p1"}))
    result = check(path)
    assert result.exit_code == 2
    assert "a FHIR Patient resource: expected a Claim or a Bundle of Claims" in result.stderr


def test_a_folder_with_no_claim_files_is_a_usage_error(tmp_path):
    (tmp_path / "notes.txt").write_text("nothing here")
    result = check(tmp_path)
    assert result.exit_code == 2 and "the folder holds no claim files" in result.output


@pytest.mark.parametrize("number", ["1e999", "-1e999", "NaN", "Infinity"])
def test_numbers_that_are_not_finite_are_refused_not_written_as_infinity(tmp_path, number):
    text = json.dumps([good("C1"), good("BAD")]).replace('"charge": 45.0', f'"charge": {number}', 2)
    text = text.replace(f'"charge": {number}', '"charge": 45.0', 1)  # only BAD's line
    path = tmp_path / "inf.json"
    path.write_text(text)
    result = check(path)
    assert result.exit_code == 2
    [error] = errors(result)
    assert error["claim_id"] == "BAD" and "not a finite number" in error["message"]
    json.loads(result.stdout, parse_constant=_not_json)  # strict JSON: no Infinity, no NaN


def _not_json(word: str):
    raise AssertionError(f"{word} is not JSON")


# ---- 3. exit codes --------------------------------------------------------------------------------

def test_a_rule_that_raises_is_an_internal_error_naming_it(tmp_path, monkeypatch):
    from rulesengine.engine import compiler
    real = compiler._LineRule.violation

    def failing(self, claim, line, x):
        if claim.claim_id == "C2" and self.facts.rule.id.startswith("MN-"):
            raise ZeroDivisionError("division by zero")
        return real(self, claim, line, x)
    monkeypatch.setattr(compiler._LineRule, "violation", failing)
    path = tmp_path / "three.json"
    path.write_text(json.dumps([good("C1"), good("C2"), good("C3")]))
    result = check(path)
    assert result.exit_code == 123
    [error] = errors(result)
    assert error["kind"] == "internal" and error["claim_id"] == "C2"
    assert "internal error in rule MN-" in error["message"] and "ZeroDivisionError" in error["message"]
    assert accounted(result) == (2, 1)
    assert "internal error: " in result.stderr  # said on stderr even with the report on stdout


def test_explain_and_diff_report_a_failing_rule_and_go_on(tmp_path, monkeypatch):
    from rulesengine.engine import compiler, reference
    real_compiled, real_reference = compiler._LineRule.violation, reference._apply

    def failing(self, claim, line, x):
        if claim.claim_id == "C2":
            raise ZeroDivisionError("division by zero")
        return real_compiled(self, claim, line, x)

    def failing_reference(checked, facts, versions, claim, history):
        if claim.claim_id == "C2":
            raise ZeroDivisionError("division by zero")
        return real_reference(checked, facts, versions, claim, history)
    monkeypatch.setattr(compiler._LineRule, "violation", failing)
    monkeypatch.setattr(reference, "_apply", failing_reference)
    path = tmp_path / "three.json"
    path.write_text(json.dumps([good("C1"), good("C2"), good("C3")]))
    explained = CliRunner().invoke(main, ["explain", str(path), "--pack", MEDICARE])
    assert explained.exit_code == 123
    assert "internal error: " in explained.stderr and "claim 2 (C2)" in explained.stderr
    assert "C1" in explained.stdout and "C3" in explained.stdout
    compared = CliRunner().invoke(main, ["diff", MEDICARE, MEDICARE, str(path), "--format", "json"])
    assert compared.exit_code == 123
    assert json.loads(compared.stdout)["summary"]["not_checked"] == {"internal": 1}


# ---- 7. inputs that are not regular files ---------------------------------------------------------

def test_stdin_is_always_data_even_when_it_looks_like_a_file_name():
    result = check("-", stdin=b"ISA*00*short")
    assert result.exit_code == 2
    assert "No such file" not in result.output and "ISA*00*short" not in result.stderr.split(":")[0]
    assert accounted(result)[0] == 0 and accounted(result)[1] >= 1


def test_an_x12_file_on_stdin_is_read(tmp_path):
    result = check("-", stdin=X12.read_bytes())
    assert result.exit_code in (0, 1) and accounted(result) == (2, 0)


@pytest.mark.skipif(sys.platform == "win32", reason="named pipes are POSIX")
def test_a_named_pipe_is_read_as_a_stream(tmp_path):
    import os
    import threading
    fifo = tmp_path / "day.jsonl"
    os.mkfifo(fifo)
    data = "".join(json.dumps(good(f"C{i}")) + "\n" for i in range(5)).encode()

    def feed():
        with open(fifo, "wb") as pipe:
            pipe.write(data)
    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    result = check(fifo)
    writer.join(timeout=5)
    if writer.is_alive():  # the command never opened the pipe: let the writer go
        os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
        writer.join(timeout=5)
    assert result.exit_code in (0, 1), result.output
    assert accounted(result) == (5, 0)


def test_an_unreadable_file_is_reported_and_the_others_checked(tmp_path, monkeypatch):
    ok, locked = tmp_path / "a.json", tmp_path / "b.json"
    ok.write_text(json.dumps([good("C1")]))
    locked.write_text(json.dumps([good("C2")]))
    real_open = Path.open

    def denied(self, *args, **kwargs):  # as chmod 000 does (root reads through that)
        if self == locked:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)
    monkeypatch.setattr(Path, "open", denied)
    result = check(ok, locked)
    assert result.exit_code == 2
    [error] = errors(result)
    assert error["source"] == str(locked) and "cannot read the file: Permission denied" in error["message"]
    assert accounted(result) == (1, 1)


# ---- 8. memory stays flat ---------------------------------------------------------------------

def _peak_reading(data: bytes, name: str, tmp_path) -> int:
    """Python's peak allocation while every claim of the file is read (and dropped)."""
    import tracemalloc
    from rulesengine.claims import read_claims
    path = tmp_path / name
    path.write_bytes(data)
    tracemalloc.start()
    try:
        count = sum(1 for _ in read_claims(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 4000
    return peak


def test_a_claims_wrapper_streams_like_a_bare_list(tmp_path):
    claims = [good(f"C{i}") for i in range(4000)]
    bare = json.dumps(claims).encode()
    wrapped = json.dumps({"claims": claims}).encode()
    bare_peak = _peak_reading(bare, "bare.json", tmp_path)
    wrapped_peak = _peak_reading(wrapped, "wrapped.json", tmp_path)
    assert wrapped_peak < len(wrapped) / 4  # not the file held whole (it was 10x the bare list)
    assert wrapped_peak < 2 * bare_peak + 1_000_000


def test_an_837_on_stdin_is_read_in_pieces(monkeypatch):
    import tracemalloc
    from rulesengine.claims import read_claims
    envelope = X12.read_text()
    head, _, rest = envelope.partition("CLM*")
    body = "CLM*" + rest[:rest.index("SE*")]
    many = head + "".join(body.replace("VITD-1001", f"V{i}") for i in range(2000)) + rest[rest.index("SE*"):]
    data = many.encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    tracemalloc.start()
    try:
        count = sum(1 for _ in read_claims("-"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count >= 2000
    assert peak < len(data) / 2  # read as it comes, not whole


# ---- 9. routing says what happened ------------------------------------------------------------------

def test_a_claim_whose_payer_has_no_pack_is_its_own_category(tmp_path):
    other, nobody = good("AET-1"), good("NOBODY")
    other["payer"]["id"] = "aetna"
    nobody["payer"]["id"] = ""
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps([good("C1"), other, nobody]))
    result = CliRunner().invoke(main, ["check", str(path), "--pack", MEDICARE, "--pack", ACME,
                                       "--format", "json"])
    assert result.exit_code == 2
    by_id = {e["claim_id"]: e for e in errors(result)}
    assert by_id["AET-1"]["kind"] == "no-pack" and by_id["AET-1"]["position"] == 2
    assert "no pack for payer 'aetna'" in by_id["AET-1"]["message"]
    assert "None" not in json.dumps(by_id.get("NOBODY", {}))
    assert json.loads(result.stdout)["summary"]["not_checked"]["no-pack"] >= 1
    assert sum(accounted(result)) == 3


def test_payer_ids_match_exactly(tmp_path):
    shouting = good("UPPER")
    shouting["payer"]["id"] = "MEDICARE"
    path = tmp_path / "case.json"
    path.write_text(json.dumps([shouting]))
    result = CliRunner().invoke(main, ["check", str(path), "--pack", MEDICARE, "--pack", ACME,
                                       "--format", "json"])
    assert result.exit_code == 2 and errors(result)[0]["kind"] == "no-pack"


# ---- safe text on standard error --------------------------------------------------------------

def test_control_characters_of_claim_data_are_escaped_on_stderr(tmp_path):
    bad = good("\x1b[2J\x1b[31mEVIL\rC2")
    bad["lines"][0]["units"] = "many"
    path = tmp_path / "ctl.json"
    path.write_text(json.dumps([bad]))
    result = check(path)
    assert result.exit_code == 2
    assert "\x1b" not in result.stderr and "\r" not in result.stderr
    assert "\\x1b[2J\\x1b[31mEVIL\\rC2" in result.stderr
