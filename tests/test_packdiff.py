"""``rulesengine diff``: what a compliance lead reads before publishing a pack update.

Two fixtures. ``tests/fixtures/packdiff`` holds two versions of one small pack (an NCCI
row added, another's deletion date set, a denial code corrected, an MUE lowered, a
rule's window ended, a rule removed and one added; see its README) and claims that show
each change. And the bundled packs: ACME (90-day filing, Medicare's OPD prior
authorization disabled, its own imaging rule) against Medicare over examples/claims,
whose expected differences were worked out by hand from the claims' dates below.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from rulesengine.cli import main
from rulesengine.authoring.diff import Impact
from rulesengine.engine.results import Finding, PackInfo, Result

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "packdiff"
Q2, Q3 = str(FIXTURES / "medicare-2026q2"), str(FIXTURES / "medicare-2026q3")
CORPUS = str(FIXTURES / "claims" / "corpus.json")
MEDICARE = str(ROOT / "payer_rules" / "medicare")
ACME = str(ROOT / "payer_rules" / "acme-commercial")
EXAMPLES = ROOT / "examples" / "claims"


@pytest.fixture
def run(monkeypatch):
    monkeypatch.chdir(ROOT)

    def invoke(*args, input=None):
        return CliRunner().invoke(main, ["diff", *args], input=input, catch_exceptions=False)
    return invoke


def as_json(result) -> dict:
    return json.loads(result.stdout)


def by_rule(report: dict) -> dict:
    return {r["rule_id"]: (r["category"], r["appeared"], r["disappeared"], r["changed"])
            for r in report["findings_by_rule"]}


def examples(report: dict, rule_id: str) -> list[tuple]:
    rule = next(r for r in report["findings_by_rule"] if r["rule_id"] == rule_id)
    return [(e["change"], e["claim_id"], e["line"]) for e in rule["examples"]]


# ---- two versions of one pack ------------------------------------------------------------------

def test_outcome_transitions_over_the_fixture_corpus(run):
    result = run(Q2, Q3, CORPUS, "--format", "json")
    assert result.exit_code == 1
    outcomes = {(o["from"], o["to"]): (o["claims"], sorted(o["examples"]))
                for o in as_json(result)["outcomes"]}
    assert outcomes == {
        ("clean", "denied"): (3, ["AGE-99392-INFANT", "MUE-3-UNITS", "NCCI-NEW-PAIR"]),
        ("denied", "clean"): (3, ["AGE-99381-ADULT", "NCCI-PAIR-DELETED", "VITD-AFTER-END"]),
    }


def test_findings_counted_by_rule(run):
    report = as_json(run(Q2, Q3, CORPUS, "--format", "json"))
    assert by_rule(report) == {
        # the new 0001U/81105 row, the 0001U/0029U row deleted 2026-06-30, CO-97 -> CO-236
        "NCCI-PTP": ("bundling", 1, 1, 1),
        # 0009U lowered from 3 to 2: 3 units now over; both lines of the 4-unit day re-worded
        "MUE-PRACTITIONER": ("unit_limit", 1, 0, 2),
        "MN-VITD-82306": ("medical_necessity", 0, 1, 0),  # window ended 2026-06-30
        "AGE-PREVENTIVE-INFANT": ("age", 0, 1, 0),  # removed
        "AGE-PREVENTIVE-EARLY-CHILDHOOD": ("age", 1, 0, 0),  # added
    }
    assert report["summary"] == {"claims": 12, "changed_outcome": 6, "appeared": 3,
                                 "disappeared": 3, "changed": 3, "unreadable": 0, "not_checked": {}}
    # unchanged: the 59 bypass of an indicator-1 pair, 0001U over its MUE of 1 in both,
    # the Vitamin D claim dated before the rule's new end
    every_example = {e["claim_id"] for r in report["findings_by_rule"] for e in r["examples"]}
    assert not every_example & {"CLEAN-BOTH", "NCCI-NEW-PAIR-59", "MUE-0001U-OVER", "VITD-BEFORE-END"}


def test_a_changed_denial_code_is_a_changed_finding_not_one_gone_and_one_new(run):
    report = as_json(run(Q2, Q3, CORPUS, "--format", "json"))
    assert examples(report, "NCCI-PTP") == [("appeared", "NCCI-NEW-PAIR", 2),
                                            ("disappeared", "NCCI-PAIR-DELETED", 2),
                                            ("changed", "NCCI-STILL-BUNDLED", 2)]
    changed = next(r for r in report["findings_by_rule"] if r["rule_id"] == "NCCI-PTP")["examples"][2]
    assert changed["old"]["codes"] == "CO-97 N20" and changed["new"]["codes"] == "CO-236 N20"
    assert changed["old"]["message"] == changed["new"]["message"] == \
        "80503 is a column-two code of 0001U (line 1) on 2026-07-15"
    mue = next(r for r in report["findings_by_rule"] if r["rule_id"] == "MUE-PRACTITIONER")
    assert [(e["old"], e["new"]["message"]) for e in mue["examples"] if e["claim_id"] == "MUE-3-UNITS"] == \
        [(None, "3 units of 0009U on 2026-08-10 exceed the MUE of 2")]


def test_rules_and_data_that_differ(run):
    report = as_json(run(Q2, Q3, CORPUS, "--format", "json"))
    rules = report["rules"]
    assert [r["rule_id"] for r in rules["added"]] == ["AGE-PREVENTIVE-EARLY-CHILDHOOD"]
    assert [r["rule_id"] for r in rules["removed"]] == ["AGE-PREVENTIVE-INFANT"]
    assert {r["rule_id"]: r["parts"] for r in rules["changed"]} == {
        "NCCI-PTP": ["action"], "MN-VITD-82306": ["effective"]}
    data = {(d["kind"], d["name"]): d for d in report["data"]}
    assert set(data) == {("table", "ncci_ptp"), ("table", "mue"), ("valueset", "vitd_82306_covered")}
    # a row whose deletion date changed is one row gone and one come
    assert (data["table", "ncci_ptp"]["rows_added"], data["table", "ncci_ptp"]["rows_removed"]) == (2, 1)
    assert data["table", "ncci_ptp"]["read_by"] == ["NCCI-PTP"]
    assert (data["table", "mue"]["rows_added"], data["table", "mue"]["rows_removed"]) == (1, 1)
    assert data["valueset", "vitd_82306_covered"]["codes_added"] == 1
    assert report["old_pack"]["version"] == "2026.2" and report["new_pack"]["version"] == "2026.3"
    assert report["old_pack"]["hash"].startswith("sha256:")
    assert report["old_pack"]["hash"] != report["new_pack"]["hash"]


def test_the_text_report(run):
    result = run(Q2, Q3, CORPUS)
    assert result.exit_code == 1
    out = result.stdout
    assert out.endswith("12 claims: 6 changed outcome, 3 findings appeared, 3 disappeared, 3 changed\n")
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["old", "medicare-sample", "2026.2"]
    assert lines[1].split()[:3] == ["new", "medicare-sample", "2026.3"]
    assert "  ~ rule NCCI-PTP" in out and "changed: action" in out
    assert "  - rule AGE-PREVENTIVE-INFANT" in out
    assert "  ~ table ncci_ptp: +2 rows, -1 row (read by NCCI-PTP)" in out
    assert next(x for x in lines if "clean -> denied" in x).split()[3:] == \
        ["3", "NCCI-NEW-PAIR,", "MUE-3-UNITS,", "AGE-99392-INFANT"]
    assert next(x for x in lines if x.startswith("  NCCI-PTP")).split() == \
        ["NCCI-PTP", "bundling", "+1", "-1", "~1"]
    block = out.split("NCCI-PTP: 3 of 3\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert block[4:7] == [
        "  ~ NCCI-STILL-BUNDLED  line 2",
        "      old: deny CO-97 N20  80503 is a column-two code of 0001U (line 1) on 2026-07-15",
        "      new: deny CO-236 N20  80503 is a column-two code of 0001U (line 1) on 2026-07-15"]


def test_show_caps_the_examples_not_the_counts(run):
    report = as_json(run(Q2, Q3, CORPUS, "--format", "json", "--show", "1"))
    assert by_rule(report)["NCCI-PTP"] == ("bundling", 1, 1, 1)
    assert examples(report, "NCCI-PTP") == [("appeared", "NCCI-NEW-PAIR", 2)]
    assert all(len(o["examples"]) == 1 for o in report["outcomes"])
    out = run(Q2, Q3, CORPUS, "--show", "1").stdout
    assert "NCCI-PTP: 1 of 3" in out and "NCCI-NEW-PAIR, ..." in out
    report = as_json(run(Q2, Q3, CORPUS, "--format", "json", "--show", "0"))
    assert all(r["examples"] == [] for r in report["findings_by_rule"])
    assert report["summary"]["changed"] == 3


def test_nothing_changes_exit_0(run):
    result = run(Q2, Q2, CORPUS)
    assert result.exit_code == 0
    assert "Rules and data: no rule, value set or table added, removed or changed" in result.stdout
    assert "Outcomes: no claim changed outcome" in result.stdout
    assert result.stdout.endswith(
        "12 claims: 0 changed outcome, 0 findings appeared, 0 disappeared, 0 changed\n")


def test_rules_compare_by_what_they_say_not_where(run, tmp_path):
    """Comments, blank lines and a rule moved down its file change no position-free tree."""
    moved = tmp_path / "medicare-2026q2"
    shutil.copytree(Q2, moved)
    ncci = moved / "ncci.rules"
    ncci.write_text("# re-formatted for the Q3 review\n\n\n" + ncci.read_text().replace(
        "  category bundling\n  citation", "  citation").replace(
        "  for each line\n", "  category bundling\n  for each line\n"))
    result = run(Q2, str(moved), CORPUS, "--format", "json")
    assert result.exit_code == 0
    report = as_json(result)
    assert report["rules"] == {"added": [], "removed": [], "changed": []}
    assert report["data"] == [] and report["findings_by_rule"] == []
    assert report["old_pack"]["hash"] != report["new_pack"]["hash"]  # the files did change


def test_value_sets_and_tables_added_and_removed(run, tmp_path):
    q3 = tmp_path / "medicare-2026q3"
    shutil.copytree(Q3, q3)
    (q3 / "mue.rules").unlink()  # the MUE table and its rule go
    (q3 / "plans.rules").write_text('valueset managed_care_plans = text {"HMO", "EPO"}\n')
    ncci = q3 / "tables" / "ncci_ptp.csv"  # the same rows in another order change nothing
    header, *rows = ncci.read_text().splitlines()
    ncci.write_text("\n".join([header, *reversed(rows)]) + "\n")
    report = as_json(run(Q3, str(q3), CORPUS, "--format", "json"))
    assert report["data"] == [
        {"kind": "valueset", "name": "managed_care_plans", "change": "added", "read_by": []},
        {"kind": "table", "name": "mue", "change": "removed", "read_by": ["MUE-PRACTITIONER"]}]
    assert [r["rule_id"] for r in report["rules"]["removed"]] == ["MUE-PRACTITIONER"]
    assert by_rule(report) == {"MUE-PRACTITIONER": ("unit_limit", 0, 4, 0)}


def test_unreadable_claims_are_counted_and_the_rest_compared(run):
    result = run(Q2, Q3, "tests/fixtures/packdiff/claims")  # as typed at the repository root
    assert result.exit_code == 2
    assert ("UNREADABLE  tests/fixtures/packdiff/claims/unreadable.jsonl: line 2 (BAD-SERVICE-DATE): "
            "$.lines[0].service_date: '2026-09-31' is not a valid date") in result.stdout
    assert result.stdout.endswith("13 claims: 6 changed outcome, 3 findings appeared, "
                                  "3 disappeared, 3 changed; 1 unreadable\n")
    result = run(Q2, Q3, "tests/fixtures/packdiff/claims", "--format", "json")
    assert result.exit_code == 2
    assert as_json(result)["summary"]["unreadable"] == 1
    assert "unreadable: tests/fixtures/packdiff/claims/unreadable.jsonl: line 2" in result.stderr


def test_claims_from_standard_input(run):
    text = Path(CORPUS).read_text()
    result = run(Q2, Q3, "-", "--format", "json", input=text)
    assert result.exit_code == 1
    assert as_json(result)["summary"]["changed_outcome"] == 6


def test_a_broken_pack_is_reported_with_its_place_and_exit_2(run, tmp_path):
    broken = tmp_path / "medicare-2026q3"
    shutil.copytree(Q3, broken)
    mue = broken / "mue.rules"
    mue.write_text(mue.read_text().replace("require units within mue", "require units within mue_q3"))
    result = run(Q2, str(broken), CORPUS)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert f"the new pack {broken} does not load" in result.stderr
    assert f"{mue}:11:24: unknown-name:" in result.stderr
    # both packs broken: both reported
    result = run(str(broken), str(broken), CORPUS)
    assert "the old pack" in result.stderr and "the new pack" in result.stderr


def test_a_missing_claims_file_is_a_usage_error(run):
    result = run(Q2, Q3, "no/such/claims.json")
    assert result.exit_code == 2
    assert "no such file or folder" in result.stderr


def test_a_large_corpus_keeps_counts_and_few_examples(run, tmp_path):
    """Memory: the report of 3,000 changed claims holds 3,000 in its counts, not its lists."""
    template = next(c for c in json.loads(Path(CORPUS).read_text()) if c["claim_id"] == "NCCI-NEW-PAIR")
    corpus = tmp_path / "quarter.jsonl"
    with corpus.open("w") as out:
        for n in range(3000):
            out.write(json.dumps({**template, "claim_id": f"Q3-{n:05d}"}) + "\n")
    report = as_json(run(Q2, Q3, str(corpus), "--format", "json", "--show", "2"))
    assert report["summary"]["claims"] == 3000 and report["summary"]["appeared"] == 3000
    assert by_rule(report) == {"NCCI-PTP": ("bundling", 3000, 0, 0)}
    assert examples(report, "NCCI-PTP") == [("appeared", "Q3-00000", 2), ("appeared", "Q3-00001", 2)]
    assert report["outcomes"] == [{"from": "clean", "to": "denied", "claims": 3000,
                                   "examples": ["Q3-00000", "Q3-00001"]}]


def test_a_rule_firing_twice_on_a_line_pairs_its_findings_in_order():
    """Findings are keyed by claim, rule and line; a repeated (rule, line) pairs up in order,
    and only what is left over appears or disappears."""
    info = PackInfo("p", "1", "sha256:0")

    def finding(message, carc="236"):
        return Finding("NCCI-PTP", "bundling", "deny", "line", 2, "CO", carc, ("N20",), message,
                       {}, "ncci.rules", 9, None, "p")

    impact = Impact(show=5)
    old = Result("C1", info, (finding("81105 with 0001U"), finding("81105 with 0002U")))
    new = Result("C1", info, (finding("81105 with 0002U"), finding("81105 with 0001U", "97"),
                              finding("81105 with 0003U")))
    impact.add(old, new)
    assert (impact.appeared, impact.disappeared, impact.changed, impact.changed_outcome) == (1, 0, 1, 0)
    assert [(e["change"], e["old"] and e["old"]["codes"], e["new"]["codes"])
            for e in impact.rules["NCCI-PTP"].examples] == \
        [("changed", "CO-236 N20", "CO-97 N20"), ("appeared", None, "CO-236 N20")]


# ---- the bundled packs: ACME against Medicare, checked by hand --------------------------------

def test_acme_against_medicare_over_the_examples(run):
    """Every example claim is checked by both packs, whatever its payer.

    TF-PROFESSIONAL (professional, each line; Medicare 1 year, ACME 90 days), received minus
    service: ACME-TF-LATE 105 days, TF-ON-TIME-LAST-DAY 365, TF-LATE line 2 360 -> appear
    (91 days to 1 year late); TF-LATE line 1 (379 days) is late under both, re-worded and
    without N211 -> changed. TF-INSTITUTIONAL (the through date 2025-06-30):
    TF-INSTITUTIONAL-THROUGH-DATE 355 days -> appears; TF-LATE-INSTITUTIONAL 371 -> changed.
    ACME-TF-DAY-90 is on time under both. PA-OPD-BLEPHAROPLASTY is disabled by ACME, so
    PA-MISSING's finding disappears; ACME-PA-IMAGING fires on ACME-PA-MISSING-EPO (72148, EPO),
    and ACME-THERAPY-UNITS on both lines of ACME-THERAPY-OVER (5 timed units on one date).
    """
    result = run(MEDICARE, ACME, str(EXAMPLES), "--format", "json")
    assert result.exit_code == 2  # malformed.json holds an unreadable claim
    report = as_json(result)
    assert by_rule(report) == {
        "TF-PROFESSIONAL": ("filing_limit", 3, 0, 1),
        "TF-INSTITUTIONAL": ("filing_limit", 1, 0, 1),
        "PA-OPD-BLEPHAROPLASTY": ("prior_auth", 0, 1, 0),
        "ACME-PA-IMAGING": ("prior_auth", 1, 0, 0),
        "ACME-THERAPY-UNITS": ("unit_limit", 2, 0, 0),
    }
    assert sorted(examples(report, "TF-PROFESSIONAL")) == [
        ("appeared", "ACME-TF-LATE", 1), ("appeared", "TF-LATE", 2),
        ("appeared", "TF-ON-TIME-LAST-DAY", 1), ("changed", "TF-LATE", 1)]
    assert examples(report, "TF-INSTITUTIONAL") == [
        ("appeared", "TF-INSTITUTIONAL-THROUGH-DATE", None), ("changed", "TF-LATE-INSTITUTIONAL", None)]
    assert examples(report, "PA-OPD-BLEPHAROPLASTY") == [("disappeared", "PA-MISSING", 1)]
    changed = next(e for r in report["findings_by_rule"] for e in r["examples"]
                   if e["claim_id"] == "TF-LATE" and e["change"] == "changed")
    assert changed["old"] == {"severity": "deny", "codes": "CO-29 N211", "message":
                              "received 2026-07-15, more than one year after the date of service 2025-07-01"}
    assert changed["new"] == {"severity": "deny", "codes": "CO-29", "message":
                              "received 2026-07-15, more than 90 days after the date of service 2025-07-01"}
    outcomes = {(o["from"], o["to"]): sorted(o["examples"]) for o in report["outcomes"]}
    assert outcomes == {
        ("clean", "denied"): ["ACME-PA-MISSING-EPO", "ACME-TF-LATE", "ACME-THERAPY-OVER",
                              "TF-INSTITUTIONAL-THROUGH-DATE", "TF-ON-TIME-LAST-DAY"],
        ("denied", "clean"): ["PA-MISSING"]}
    assert report["summary"] == {"claims": 38, "changed_outcome": 6, "appeared": 7,
                                 "disappeared": 1, "changed": 2, "unreadable": 1,
                                 "not_checked": {"unreadable": 1}}
    rules = report["rules"]
    assert rules["added"] == [{"rule_id": "ACME-PA-IMAGING", "category": "prior_auth",
                               "pack": "acme-commercial"},
                              {"rule_id": "ACME-THERAPY-UNITS", "category": "unit_limit",
                               "pack": "acme-commercial"}]
    # disabled in the ACME layer: removed from the merged rules
    assert [r["rule_id"] for r in rules["removed"]] == ["PA-OPD-BLEPHAROPLASTY"]
    assert {r["rule_id"] for r in rules["changed"]} == {"TF-PROFESSIONAL", "TF-INSTITUTIONAL"}
    assert report["new_pack"]["layers"] == ["medicare", "acme-commercial"]
    assert report["data"] == [{"kind": "valueset", "name": "timed_therapy", "change": "added",
                               "read_by": ["ACME-THERAPY-UNITS"]}]


def test_acme_against_medicare_exit_1_without_the_malformed_file(run):
    files = [str(EXAMPLES / f) for f in ("acme.json", "clean.json", "dirty.json")]
    result = run(MEDICARE, ACME, *files)
    assert result.exit_code == 1
    assert result.stdout.endswith(
        "36 claims: 6 changed outcome, 7 findings appeared, 1 disappeared, 2 changed\n")


def test_a_change_only_to_a_short_rule_id_prints_its_row(run, tmp_path):
    # the header is padded to the widest rule id; ids shorter than the header once crashed it
    new = tmp_path / "medicare"
    shutil.copytree(MEDICARE, new)
    rules = new / "ncci.rules"
    rules.write_text(rules.read_text().replace("CO-236", "CO-97"))
    result = run(MEDICARE, str(new), str(EXAMPLES / "dirty.json"))
    assert result.exit_code == 1, result.output
    row = next(x for x in result.stdout.splitlines() if x.startswith("  NCCI-PTP"))
    assert row.split() == ["NCCI-PTP", "bundling", "+0", "-0", "~1"]
