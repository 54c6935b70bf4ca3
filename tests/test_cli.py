"""The command line as a biller uses it, through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from rulesengine.cli import main

ROOT = Path(__file__).resolve().parent.parent
MEDICARE = str(ROOT / "payer_rules" / "medicare")
ACME = str(ROOT / "payer_rules" / "acme-commercial")
CLAIMS = ROOT / "examples" / "claims"
RESULT_SCHEMA = json.loads((ROOT / "rulesengine" / "engine" / "result.schema.json").read_text())


@pytest.fixture
def run(monkeypatch):
    # findings show rule files relative to the working folder, as a user at the repo root sees them
    monkeypatch.chdir(ROOT)

    def invoke(*args):
        return CliRunner().invoke(main, list(args), catch_exceptions=False)
    return invoke


def test_example_report_matches_the_hand_checked_golden(run):
    result = run("check", "examples/claims", "--pack", MEDICARE, "--pack", ACME)
    expected = (ROOT / "examples" / "expected-report.txt").read_text()
    assert result.output == expected
    assert result.exit_code == 2  # the malformed example claim is an input error


def test_the_readme_shows_a_real_excerpt_of_the_golden_report():
    readme = (ROOT / "README.md").read_text()
    golden = (ROOT / "examples" / "expected-report.txt").read_text()
    excerpt = next(block for block in readme.split("```")[1::2] if "claims checked:" in block)
    parts = excerpt.strip("\n").split("\n...\n")
    assert len(parts) > 1
    at = 0
    for part in parts:  # each part is lines of the report, in the report's order
        found = golden.find(part + "\n", at)
        assert found >= 0 and (found == 0 or golden[found - 1] == "\n"), part
        at = found + len(part)
    assert golden.endswith(parts[-1] + "\n")


def test_exit_codes_clean_findings_and_input_error(run):
    assert run("check", str(CLAIMS / "clean.json"), "--pack", MEDICARE).exit_code == 0
    assert run("check", str(CLAIMS / "dirty.json"), "--pack", MEDICARE).exit_code == 1
    assert run("check", str(CLAIMS / "malformed.json"), "--pack", MEDICARE).exit_code == 2


def test_a_malformed_claim_is_reported_and_the_rest_still_checked(run):
    out = run("check", str(CLAIMS / "malformed.json"), "--pack", MEDICARE).output
    assert "BATCH-OK-1  CLEAN" in out and "BATCH-OK-2  CLEAN" in out
    assert ("claim 2 (BAD-SERVICE-DATE): $.lines[0].service_date: "
            "'2026-09-31' is not a valid date") in out
    assert "2 claims checked" in out and "1 unreadable" in out


def test_text_report_names_line_rule_codes_and_message(run):
    out = run("check", str(CLAIMS / "dirty.json"), "--pack", MEDICARE).output
    head, rule, *rows = out.split("NCCI-BUNDLED  DENIED  (1 finding)\n", 1)[1].split("\n")[:4]
    assert head.split() == ["Line", "Action", "CARC", "RARC", "Rule", "Message"]
    assert set(rule.strip()) == {"-"}
    assert rows[0].split()[:5] == ["2", "deny", "CO-236", "N20", "NCCI-PTP"]
    message = " ".join(row[head.index("Message"):] for row in rows)  # wrapped in its column
    assert message == ("81105 is a column-two code of 0001U (line 1) on 2026-07-22 "
                       "(NCCI modifier indicator 1)")
    assert out.rstrip().endswith("pack medicare 2026.3")


def test_json_output_follows_the_result_schema(run):
    result = run("check", str(CLAIMS / "dirty.json"), "--pack", MEDICARE, "--format", "json")
    document = json.loads(result.output)
    assert document["packs"][0]["id"] == "medicare"
    assert document["summary"]["denied"] == len(document["results"]) > 0
    for item in document["results"]:
        jsonschema.validate(item, RESULT_SCHEMA)
    first = document["results"][0]
    assert first["status"] == "denied" and first["findings"][0]["source"]["file"].startswith(
        "payer_rules/medicare/")


def test_jsonl_output_has_one_result_or_error_per_line(run):
    result = run("check", str(CLAIMS / "malformed.json"), "--pack", MEDICARE, "--format", "jsonl")
    rows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert [r.get("claim_id") or r["error"]["claim_id"] for r in rows] == [
        "BATCH-OK-1", "BAD-SERVICE-DATE", "BATCH-OK-2"]
    assert rows[1]["error"]["path"] == "$.lines[0].service_date"
    jsonschema.validate(rows[0], RESULT_SCHEMA)


def test_claims_route_to_the_pack_of_their_payer(run):
    out = run("check", str(CLAIMS / "acme.json"), str(CLAIMS / "dirty.json"),
              "--pack", MEDICARE, "--pack", ACME).output
    assert "ACME-PA-IMAGING" in out and "MN-VITD-82306" in out


def test_a_claim_for_a_payer_without_a_pack_is_an_input_error(run, tmp_path):
    claims = json.loads((CLAIMS / "acme.json").read_text())[:1]
    claims[0]["payer"]["id"] = "bluecross"
    path = tmp_path / "other.json"
    path.write_text(json.dumps(claims))
    result = run("check", str(path), "--pack", MEDICARE, "--pack", ACME)
    assert result.exit_code == 2
    # read fine, so not "unreadable": its own category, with the claim's position
    assert ("NO PACK  " + str(path) + ": claim 1 (ACME-MRI-AUTHORIZED): $.payer.id: no pack for "
            "payer 'bluecross'") in result.output
    assert "; 1 no pack;" in result.output and "UNREADABLE" not in result.output


def test_output_file_is_written_whole(run, tmp_path):
    target = tmp_path / "report.jsonl"
    result = run("check", str(CLAIMS / "clean.json"), "--pack", MEDICARE,
                 "--format", "jsonl", "--output", str(target))
    assert result.exit_code == 0 and result.output == ""
    assert len(target.read_text().splitlines()) == len(json.loads((CLAIMS / "clean.json").read_text()))
    assert [p.name for p in tmp_path.iterdir()] == ["report.jsonl"]  # no temporary left behind


def test_broken_pack_exits_2_with_located_message(run, tmp_path):
    (tmp_path / "pack.yaml").write_text("id: broken\nversion: '1'\n")
    (tmp_path / "a.rules").write_text(
        'rule TF-1 "Late"\n  category filing_limt\n  require claim.received_date <= '
        'claim.last_service_date + 90 days\n  else deny claim CO-29\n')
    result = run("check", str(CLAIMS / "clean.json"), "--pack", str(tmp_path))
    assert result.exit_code == 2
    assert "a.rules:2:12: unknown-category: 'filing_limt' is not a category" in result.output
    assert "did you mean 'filing_limit'?" in result.output


def test_missing_claims_file_is_a_usage_error(run):
    result = run("check", "no/such/file.json", "--pack", MEDICARE)
    assert result.exit_code == 2 and "no/such/file.json: no such file or folder" in result.output


def test_compile_summarises_a_pack(run):
    result = run("compile", MEDICARE)
    assert result.exit_code == 0
    assert result.output.startswith("pack medicare 2026.3: ")
    assert "sha256:" in result.output


def test_version(run):
    result = run("--version")
    assert result.exit_code == 0 and "rulesengine, version" in result.output


def test_html_summary_of_the_example_day(run, tmp_path):
    target = tmp_path / "day.html"
    result = run("check", "examples/claims", "--pack", MEDICARE, "--pack", ACME,
                 "--format", "html", "--output", str(target))
    assert result.exit_code == 2  # the malformed example claim
    page = target.read_text()
    assert 'id="figure-clean-rate"><dt>Clean-claim rate</dt><dd class="value">50.0%' in page
    assert "http://" not in page and "https://" not in page  # self-contained


def test_csv_findings_of_the_example_day(run):
    import csv
    import io
    result = run("check", str(CLAIMS / "dirty.json"), "--pack", MEDICARE, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.output)))
    bundled = [r for r in rows if r["claim_id"] == "NCCI-BUNDLED"]
    assert [(r["line_number"], r["rule_id"], r["group_code"], r["carc"], r["rarc"]) for r in bundled] == [
        ("2", "NCCI-PTP", "CO", "236", "N20")]


def test_x12_837_files_are_detected_and_checked(run):
    fixtures = ROOT / "tests" / "fixtures" / "x12"
    out = run("check", str(fixtures / "professional-two-claims.837p"),
              str(fixtures / "institutional-outpatient.837i"), "--pack", MEDICARE).output
    assert "3 claims checked" in out and "unreadable" not in out
    # the reader is chosen by content too: an 837 on standard input is still X12
    copy = fixtures / "professional-two-claims.837p"
    result = CliRunner().invoke(main, ["check", "-", "--pack", MEDICARE], input=copy.read_text())
    assert "2 claims checked" in result.output


def test_a_glob_the_shell_did_not_expand_is_expanded(run):
    out = run("check", "examples/claims/[cd]*.json", "--pack", MEDICARE).output
    assert "29 claims checked" in out  # clean.json (13) and dirty.json (16)
    assert run("check", "examples/claims/nothing-*.json", "--pack", MEDICARE).exit_code == 2
