"""Packs built on packs (extends, override, disable), pack.yaml, parameters, value-set files."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

import rulesengine
from corpus import build_claim, claim_data, fired, random_claims, write_pack
from rulesengine.claims import claim_from_data
from rulesengine.cli import main
from rulesengine.authoring.explain.claim import explain_claim
from rulesengine.authoring.lint.pack import lint_pack
from rulesengine.authoring.packtest.run import run_pack

ROOT = Path(__file__).resolve().parent.parent

BASE_RULES = """
    valueset vitamin_d_support = icd10 {E55.0, E55.9, N18.31}

    rule MN-VITD "Vitamin D testing needs a covered diagnosis"
      category medical_necessity
      citation "LCD L33996"
      for each line where line.procedure in {82306}
      require any line.diagnosis in vitamin_d_support
      else deny line CO-50 N115

    rule TF-1Y "Filed more than a year after the date of service"
      category filing_limit
      for each line
      require claim.received_date <= line.service_date + 1 year
      else deny line CO-29 N211
"""


def base_meta(extra: str = "") -> str:
    return 'id: base\nversion: "1"\n' + extra


def child_meta(extra: str = "") -> str:
    return 'id: child\nversion: "2"\nextends: [base]\n' + extra


@pytest.fixture
def family(tmp_path):
    """write(child_rules, child_meta=..., base_rules=..., base_meta=...) -> loaded child pack."""
    def write(child_rules, meta=None, base_rules=BASE_RULES, base=None):
        write_pack(tmp_path / "base", base_rules, meta=base or base_meta())
        write_pack(tmp_path / "child", child_rules, meta=meta or child_meta())
        return rulesengine.load_pack(tmp_path / "child")
    return write


def problems(error: rulesengine.PackError) -> list[tuple[str, int, str]]:
    return [(d.code, d.pos.line, d.message) for d in error.diagnostics]


# ---- extends, override, disable -----------------------------------------------------------

def test_a_child_pack_inherits_adds_and_names_the_layer_of_each_finding(family, evaluate):
    pack = family("""
        rule PA-MRI "MRI needs prior authorization"
          category prior_auth
          for each line where line.procedure in 70551..70553
          require claim.prior_authorization is present
          else deny line CO-197
    """)
    assert pack.layers == ["base", "child"]
    assert [r.id for r in pack.rules] == ["MN-VITD", "TF-1Y", "PA-MRI"]
    claim = build_claim([{"procedure": "82306", "diagnosis_pointers": [2]},  # Z13.21: screening
                         {"procedure": "70551"}], diagnoses=["E55.9", "Z13.21"])
    result = evaluate(pack, claim)
    assert fired(result) == [("MN-VITD", 1), ("PA-MRI", 2)]
    assert {f.rule_id: f.pack for f in result.findings} == {"MN-VITD": "base", "PA-MRI": "child"}
    assert result.to_dict()["pack"]["id"] == "child"


def test_an_override_replaces_the_rule_in_its_place(family, evaluate):
    pack = family("""
        override rule TF-1Y "Filed more than 90 days after the date of service"
          category filing_limit
          for each line
          require claim.received_date <= line.service_date + 90 days
          else deny line CO-29
    """)
    assert [r.id for r in pack.rules] == ["MN-VITD", "TF-1Y"]
    # 100 days late: on time for the base's year, late for the child's 90 days
    claim = build_claim([{"service_date": "2026-01-15", "diagnosis_pointers": [1]}],
                        received_date="2026-04-25")
    result = evaluate(pack, claim)
    assert fired(result) == [("TF-1Y", 1)]
    assert result.findings[0].pack == "child" and result.findings[0].rarc == ()


def test_a_disabled_rule_no_longer_fires(family, evaluate):
    pack = family('disable rule MN-VITD because "ACME covers vitamin D testing for any diagnosis"\n')
    claim = build_claim([{"diagnosis_pointers": [2]}], diagnoses=["E55.9", "Z13.21"])
    assert [r.id for r in pack.rules] == ["TF-1Y"]
    assert pack.disabled == {"MN-VITD": ("child", "ACME covers vitamin D testing for any diagnosis")}
    assert fired(evaluate(pack, claim)) == []


def test_an_overridden_value_set_is_what_inherited_rules_read(family, evaluate):
    pack = family("override valueset vitamin_d_support = icd10 {E55.9, Z13.21}\n")
    claim = build_claim([{"diagnosis_pointers": [2]}], diagnoses=["E55.9", "Z13.21"])
    assert fired(evaluate(pack, claim)) == []


def test_redefining_an_inherited_rule_without_override_is_an_error(family):
    with pytest.raises(rulesengine.PackError) as caught:
        family("""
            rule TF-1Y "Filed late"
              category filing_limit
              for each line
              require claim.received_date <= line.service_date + 90 days
              else deny line CO-29
        """)
    [(code, line, message)] = problems(caught.value)
    assert (code, line) == ("redefines-inherited", 1)
    assert message == "rule TF-1Y is defined by pack base, which this pack extends"
    assert caught.value.diagnostics[0].hint == "to replace it write 'override rule TF-1Y ...'"


def test_overriding_or_disabling_what_no_parent_defines_is_an_error(family):
    with pytest.raises(rulesengine.PackError) as caught:
        family("""
            override rule TF-2Y "t"
              category filing_limit
              require claim.received_date <= claim.last_service_date + 2 years
              else deny claim CO-29
            disable rule MN-VITD2 because "no longer needed"
        """)
    found = problems(caught.value)
    assert [(c, l) for c, l, _ in found] == [("nothing-to-override", 1), ("unknown-rule", 5)]
    hints = [d.hint for d in caught.value.diagnostics]
    assert hints == ["did you mean 'TF-1Y'?", "did you mean 'MN-VITD'?"]


def test_a_disable_needs_a_reason(family):
    with pytest.raises(rulesengine.PackError) as caught:
        family('disable rule MN-VITD because "  "\n')
    assert problems(caught.value) == [("missing-reason", 1, "say why rule MN-VITD is disabled")]
    with pytest.raises(rulesengine.PackError) as caught:
        family("disable rule MN-VITD\n")
    assert caught.value.diagnostics[0].code == "syntax"
    assert "'because'" in caught.value.diagnostics[0].message


def test_packs_that_extend_each_other_in_a_circle_are_an_error(family):
    with pytest.raises(rulesengine.PackError) as caught:
        family("rule X-1 \"t\" category coverage require claim.plan is present else deny claim CO-50\n",
               base=base_meta("extends: [child]\n"))
    [diagnostic] = [d for d in caught.value.diagnostics if d.code == "extends-cycle"]
    assert "packs extend each other in a circle: child -> base -> child" in diagnostic.message
    assert Path(diagnostic.pos.file).name == "pack.yaml" and diagnostic.pos.line == 3


def test_a_missing_parent_pack_is_reported_where_it_is_named(tmp_path):
    write_pack(tmp_path / "child", BASE_RULES, meta=child_meta())
    with pytest.raises(rulesengine.PackError) as caught:
        rulesengine.load_pack(tmp_path / "child")
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == "missing-file" and "base is not a rule pack" in diagnostic.message
    assert (Path(diagnostic.pos.file).name, diagnostic.pos.line) == ("pack.yaml", 3)


def test_a_pack_is_read_once_however_often_it_is_extended(tmp_path, evaluate):
    write_pack(tmp_path / "base", BASE_RULES, meta=base_meta())
    write_pack(tmp_path / "left", 'rule L-1 "t" category coverage require claim.plan is present '
               'else deny claim CO-50\n', meta='id: left\nversion: "1"\nextends: [base]\n')
    write_pack(tmp_path / "right", 'rule R-1 "t" category coverage require claim.payer is present '
               'else deny claim CO-50\n', meta='id: right\nversion: "1"\nextends: [base]\n')
    write_pack(tmp_path / "top", 'rule T-1 "t" category coverage require claim.id is present '
               'else deny claim CO-50\n', meta='id: top\nversion: "1"\nextends: [left, right]\n')
    pack = rulesengine.load_pack(tmp_path / "top")
    assert pack.layers == ["base", "left", "right", "top"]
    assert [r.id for r in pack.rules] == ["MN-VITD", "TF-1Y", "L-1", "R-1", "T-1"]


def test_the_bundled_acme_pack_layers_on_medicare(evaluate):
    pack = rulesengine.load_pack(ROOT / "payer_rules" / "acme-commercial")
    assert pack.layers == ["medicare", "acme-commercial"]
    ids = [r.id for r in pack.rules]
    assert "PA-OPD-BLEPHAROPLASTY" not in ids and {"NCCI-PTP", "ACME-PA-IMAGING"} <= set(ids)
    # 15823 on an institutional claim without a UTN: Medicare's OPD rule is switched off
    claim = build_claim([{"procedure": "15823", "revenue_code": "0490", "service_date": "2026-08-12",
                          "diagnosis_pointers": [1]}],
                        claim_type="institutional", diagnoses=["H02.831"], received_date="2026-08-19",
                        payer={"id": "acme-commercial", "plan": "PPO"})
    assert fired(evaluate(pack, claim)) == []


# ---- pack.yaml --------------------------------------------------------------------------------

@pytest.mark.parametrize("meta, line, message, hint", [
    ('id: p\nversion: "1"\nextend: [base]\n', 3, "pack.yaml has no field 'extend'", "did you mean 'extends'?"),
    ('id: p\nversion: 2026.1\n', 2, "version 2026.1 reads as a number, so 2026.10 would become 2026.1",
     'write it in quotes: version: "2026.1"'),
    ('id: p\nversion: "1"\nextends: base\n', 3, "extends is a list of packs", "write: extends: [base]"),
    ('id: Medicare Part B\nversion: "1"\n', 1, "id: 'Medicare Part B' does not match '^[a-z0-9][a-z0-9-]*$'",
     None),
    ('version: "1"\n', 1, "pack.yaml needs a field 'id'", None),
    ('id: p\nversion: "1"\neffective:\n  from: 2026-02-30\n', 4,
     "effective.from: '2026-02-30' is not a 'date'", None),
])
def test_pack_yaml_problems_name_the_line_and_field(tmp_path, meta, line, message, hint):
    write_pack(tmp_path / "p", BASE_RULES, meta=meta)
    with pytest.raises(rulesengine.PackError) as caught:
        rulesengine.load_pack(tmp_path / "p")
    [diagnostic] = caught.value.diagnostics
    assert (diagnostic.code, diagnostic.pos.line, diagnostic.message) == ("bad-pack", line, message)
    assert diagnostic.hint == hint
    assert Path(diagnostic.pos.file).name == "pack.yaml"


def test_a_pack_window_that_ends_before_it_starts_is_an_error(tmp_path):
    write_pack(tmp_path / "p", BASE_RULES,
               meta=base_meta("effective:\n  from: 2026-07-01\n  through: 2026-06-30\n"))
    with pytest.raises(rulesengine.PackError) as caught:
        rulesengine.load_pack(tmp_path / "p")
    [diagnostic] = caught.value.diagnostics
    assert (diagnostic.code, diagnostic.pos.line) == ("empty-window", 5)


def test_a_pack_window_narrows_its_own_rules_only(family, evaluate):
    pack = family("""
        rule PA-MRI "MRI needs prior authorization"
          category prior_auth
          effective 2026-01-01
          for each line where line.procedure in {70551}
          require claim.prior_authorization is present
          else deny line CO-197
    """, meta=child_meta("effective:\n  from: 2026-03-01\n  through: 2026-12-31\n"))
    before = build_claim([{"procedure": "70551", "service_date": "2026-02-27"}], received_date="2026-03-10")
    inside = build_claim([{"procedure": "70551", "service_date": "2026-03-01"}], received_date="2026-03-10")
    assert fired(evaluate(pack, before)) == []  # the pack starts 2026-03-01, after the rule's own start
    assert fired(evaluate(pack, inside)) == [("PA-MRI", 1)]
    late_base = build_claim([{"procedure": "99213", "service_date": "2024-01-15"}], received_date="2026-03-10")
    assert fired(evaluate(pack, late_base)) == [("TF-1Y", 1)]  # the base's rules keep their own window


# ---- windowed overrides and disables ------------------------------------------------------------

CHILD_TF = """
    override rule TF-1Y "Filed more than 90 days after the date of service"
      category filing_limit
      citation "Child contract: 90-day filing limit"
      for each line
      require claim.received_date <= line.service_date + 90 days
      else deny line CO-29
"""
YEAR_2026 = "effective:\n  from: 2026-01-01\n  through: 2026-12-31\n"


def late_lines(*days: str, received: str = "2029-12-31"):
    """A claim with one line of 99213 on each day, received late for any filing limit."""
    return build_claim([{"procedure": "99213", "service_date": d} for d in days], received_date=received)


def layers_fired(result) -> list[tuple[str, int | None, str]]:
    return [(f.rule_id, f.line_number, f.pack) for f in result.findings]


def test_a_windowed_override_leaves_the_inherited_rule_in_force_outside_its_window(family, evaluate):
    pack = family(CHILD_TF, meta=child_meta(YEAR_2026))
    # received 2026-07-15: 135 days after the base's one year for 2025-03-02 (late for the base);
    # 2026-03-02 + 90 days = 2026-05-31 (late for the child, on time for the base's year)
    result = evaluate(pack, late_lines("2025-03-02", "2026-03-02", received="2026-07-15"))
    assert layers_fired(result) == [("TF-1Y", 1, "base"), ("TF-1Y", 2, "child")]
    base, child = result.findings
    assert (base.rarc, Path(base.source_file).parts[-2:]) == (("N211",), ("base", "main.rules"))
    assert (child.rarc, Path(child.source_file).parts[-2:]) == ((), ("child", "main.rules"))
    assert child.citation == "Child contract: 90-day filing limit"
    assert result.to_dict()["findings"][0]["source"]["pack"] == "base"
    # the last day of the window is the child's, the first day after it the base's again
    edges = evaluate(pack, late_lines("2025-12-31", "2026-01-01", "2026-12-31", "2027-01-01"))
    assert [f.pack for f in edges.findings] == ["base", "child", "child", "base"]
    assert [r.id for r in pack.rules] == ["MN-VITD", "TF-1Y", "TF-1Y"]
    assert pack.rule_pack("TF-1Y", date(2025, 3, 2)) == "base"
    assert pack.rule_pack("TF-1Y", date(2026, 3, 2)) == "child"


def test_a_windowed_override_with_only_a_start_takes_over_from_that_day_on(family, evaluate):
    pack = family(CHILD_TF, meta=child_meta("effective:\n  from: 2026-01-01\n"))
    result = evaluate(pack, late_lines("2020-05-01", "2025-12-31", "2026-01-01", "2031-01-01",
                                       received="2032-01-01"))
    assert [f.pack for f in result.findings] == ["base", "base", "child", "child"]


def test_an_inherited_rule_whose_dates_all_fall_in_the_window_is_replaced_outright(family, evaluate):
    base = BASE_RULES.replace("category filing_limit\n",
                              "category filing_limit\n      effective 2026-03-01 through 2026-06-30\n")
    pack = family(CHILD_TF, meta=child_meta(YEAR_2026), base_rules=base)
    assert [(r.id, pack.facts(r).pack) for r in pack.rules] == [("MN-VITD", "base"), ("TF-1Y", "child")]
    assert layers_fired(evaluate(pack, late_lines("2025-05-01", "2026-05-01"))) == [("TF-1Y", 2, "child")]


def test_a_windowed_disable_switches_the_rule_off_only_within_its_window(family, evaluate):
    pack = family('disable rule TF-1Y because "the 2026 contract has no filing limit"\n',
                  meta=child_meta(YEAR_2026))
    result = evaluate(pack, late_lines("2025-06-01", "2026-06-01", "2027-06-01"))
    assert layers_fired(result) == [("TF-1Y", 1, "base"), ("TF-1Y", 3, "base")]
    assert pack.disabled == {}  # still in force outside the window
    explained = explain_claim(pack, late_lines("2026-06-01"), "TF-1Y")
    assert [(e.outcome, e.reason) for e in explained.explanations] == [(
        "not-applicable", "does not apply: the line's date of service 2026-06-01 is in pack child's "
        "window (from 2026-01-01 through 2026-12-31), where pack child disables the rule")]
    # a disable whose window covers every date the rule has left switches it off altogether
    base = BASE_RULES.replace("category filing_limit\n",
                              "category filing_limit\n      effective 2026-03-01 through 2026-06-30\n")
    pack = family('disable rule TF-1Y because "the 2026 contract has no filing limit"\n',
                  meta=child_meta(YEAR_2026), base_rules=base)
    assert [r.id for r in pack.rules] == ["MN-VITD"]
    assert pack.disabled == {"TF-1Y": ("child", "the 2026 contract has no filing limit")}


def test_a_pack_without_a_window_overrides_and_disables_at_every_date(family, evaluate):
    pack = family(CHILD_TF)
    assert [(r.id, pack.facts(r).pack, r.superseded) for r in pack.rules] == [
        ("MN-VITD", "base", ()), ("TF-1Y", "child", ())]
    result = evaluate(pack, late_lines("2019-01-02", "2026-06-01", "2031-01-01", received="2032-01-01"))
    assert [f.pack for f in result.findings] == ["child", "child", "child"]
    pack = family('disable rule TF-1Y because "no filing limit"\n')
    assert fired(evaluate(pack, late_lines("2019-01-02", "2026-06-01"))) == []


def three_generations(tmp_path, parent_rules, child_rules):
    """grand (no window) <- parent (2025 through 2027) <- child (2026), each overriding TF-1Y."""
    write_pack(tmp_path / "grand", BASE_RULES, meta='id: grand\nversion: "1"\n')
    write_pack(tmp_path / "parent", parent_rules, meta='id: parent\nversion: "1"\nextends: [grand]\n'
               'effective:\n  from: 2025-01-01\n  through: 2027-12-31\n')
    write_pack(tmp_path / "child", child_rules, meta='id: child\nversion: "1"\nextends: [parent]\n'
               + YEAR_2026)
    return rulesengine.load_pack(tmp_path / "child")


PARENT_TF = CHILD_TF.replace("90 days", "180 days").replace("90-day", "180-day")
DATES = ("2024-12-31", "2025-01-01", "2025-12-31", "2026-01-01", "2026-12-31", "2027-01-01",
         "2027-12-31", "2028-01-01")


def test_nested_windows_apply_the_most_derived_layer_covering_each_date(tmp_path, evaluate):
    pack = three_generations(tmp_path, PARENT_TF, CHILD_TF)
    result = evaluate(pack, late_lines(*DATES))
    assert [f.pack for f in result.findings] == [
        "grand", "parent", "parent", "child", "child", "parent", "parent", "grand"]
    assert [pack.facts(r).pack for r in pack.rules if r.id == "TF-1Y"] == ["grand", "parent", "child"]


def test_a_windowed_disable_below_a_windowed_override_leaves_the_other_layers(tmp_path, evaluate):
    pack = three_generations(tmp_path, PARENT_TF, 'disable rule TF-1Y because "not in 2026"\n')
    result = evaluate(pack, late_lines(*DATES))
    assert [(f.line_number, f.pack) for f in result.findings] == [
        (1, "grand"), (2, "parent"), (3, "parent"), (6, "parent"), (7, "parent"), (8, "grand")]


LAYER_RULES = {
    # a claim rule: decided by the claim's first date of service
    "claim": """
        {kw}rule TF-CLAIM "Claim filed late"
          category filing_limit
          require claim.received_date <= claim.last_service_date + {days} days
          else deny claim CO-29 "{pack}: more than {days} days"
    """,
    # a line rule that denies the claim once, from its first failing line
    "line-claim": """
        {kw}rule PA-MRI "MRI needs prior authorization"
          category prior_auth
          for each line where line.procedure in {{70551}}
          require claim.prior_authorization is present
          else deny claim CO-197 "{pack}: line {{line.number}} has no authorization"
    """,
    "line": """
        {kw}rule TF-LINE "Line filed late"
          category filing_limit
          for each line
          require claim.received_date <= line.service_date + {days} days
          else deny line CO-29 "{pack}: more than {days} days"
    """,
}


def test_compiled_and_reference_agree_on_layered_versions_of_every_kind(tmp_path):
    def rules(pack, days, kw, kinds=tuple(LAYER_RULES)):
        return "".join(LAYER_RULES[k].format(kw=kw, days=days, pack=pack) for k in kinds)
    write_pack(tmp_path / "grand", rules("grand", 365, ""), meta='id: grand\nversion: "1"\n')
    write_pack(tmp_path / "parent", rules("parent", 180, "override "),
               meta='id: parent\nversion: "1"\nextends: [grand]\neffective:\n  from: 2025-07-01\n')
    # the child overrides the claim rule and the MRI rule in 2026, and disables TF-LINE then
    write_pack(tmp_path / "child", rules("child", 90, "override ", ("claim", "line-claim"))
               + 'disable rule TF-LINE because "no line filing limit in the 2026 contract"\n',
               meta='id: child\nversion: "1"\nextends: [parent]\n' + YEAR_2026)
    pack = rulesengine.load_pack(tmp_path / "child")
    spec = {"procedures": ["70551", "99213"], "pairs": [("70551", "99213")],
            "diagnoses": ["I10", "E55.9", "J18.9", "R05.9"], "modifiers": ["25", "59"],
            "places": ["11"], "revenue_codes": ["0450"], "plans": ["PPO"],
            "service_dates": ["2025-06-30", "2025-07-01", "2025-12-31", "2026-01-01", "2026-12-31",
                              "2027-01-01"],
            "birth_dates": ["1960-01-01"], "filing_offsets": [30, 120, 200, 400]}
    seen = set()
    for data in random_claims(600, 20260601, spec):
        claim = claim_from_data(data)
        compiled, reference = pack.check(claim), pack.check_reference(claim)
        assert compiled.to_dict() == reference.to_dict(), claim.claim_id
        seen.update((f.rule_id, f.pack) for f in compiled.findings)
    # not vacuous: every version fired somewhere (TF-LINE is the child's only as a disable)
    assert seen == {("TF-CLAIM", "grand"), ("TF-CLAIM", "parent"), ("TF-CLAIM", "child"),
                    ("PA-MRI", "grand"), ("PA-MRI", "parent"), ("PA-MRI", "child"),
                    ("TF-LINE", "grand"), ("TF-LINE", "parent")}


def test_a_line_rule_denying_the_claim_reports_it_once_across_versions(family, evaluate):
    rules = """
        rule PA-MRI "MRI needs prior authorization"
          category prior_auth
          for each line where line.procedure in {70551}
          require claim.prior_authorization is present
          else deny claim CO-197 "line {line.number} (base)"
    """
    pack = family(rules.replace("rule PA-MRI", "override rule PA-MRI").replace("(base)", "(child)"),
                  meta=child_meta(YEAR_2026), base_rules=BASE_RULES + rules)
    mri = [{"procedure": "70551", "service_date": day} for day in ("2026-02-01", "2025-02-01")]
    result = evaluate(pack, build_claim(mri, received_date="2026-01-15"))
    # one finding for the claim, from its first line: line 1, in the child's window
    assert [(f.rule_id, f.scope, f.pack, f.message) for f in result.findings] == [
        ("PA-MRI", "claim", "child", "line 1 (child)")]


def test_explain_names_the_version_that_applies_on_each_line(family, monkeypatch, tmp_path):
    pack = family(CHILD_TF, meta=child_meta(YEAR_2026))
    claim_file = tmp_path / "claim.json"
    claim_file.write_text(json.dumps(claim_data([{"procedure": "99213", "service_date": "2025-03-02"},
                                                 {"procedure": "99213", "service_date": "2026-03-02"}],
                                                received_date="2026-07-15")))
    folder = str(Path(pack.rules[-1].pos.file).parent)

    def explain(*extra):
        out = CliRunner().invoke(main, ["explain", str(claim_file), "--pack", folder, "--format", "json",
                                        *extra], catch_exceptions=False)
        [claim] = json.loads(out.output)
        assert claim["agrees_with_check"] and out.exit_code == 1
        return [(e["line"], e["pack"], e["outcome"], e["reason"]) for e in claim["explanations"]
                if e["rule_id"] == "TF-1Y"]

    shown = explain()
    assert [e[:3] for e in shown] == [(1, "base", "fired"), (2, "child", "fired")]
    everything = explain("--rule", "TF-1Y")
    assert [e[:3] for e in everything] == [(1, "base", "fired"), (1, "child", "not-applicable"),
                                           (2, "base", "not-applicable"), (2, "child", "fired")]
    assert everything[2][3] == ("does not apply: the line's date of service 2026-03-02 is in pack child's "
                                "window (from 2026-01-01 through 2026-12-31), where pack child has its "
                                "own version of the rule")


def test_lint_sees_windowed_versions_as_one_rule_changing_by_date(family):
    pack = family(CHILD_TF, meta=child_meta(YEAR_2026))
    report = lint_pack(Path(pack.rules[-1].pos.file).parent)
    assert [p.diagnostic.code for p in report.problems
            if p.diagnostic.code in ("overlapping-versions", "shadowed-rule", "contradictory-actions")] == []


def test_test_coverage_counts_the_childs_version_only_when_it_fires(family, tmp_path):
    pack = family(CHILD_TF, meta=child_meta(YEAR_2026))
    tests = tmp_path / "child" / "tests"
    tests.mkdir()
    case = ("defaults:\n  claim_type: professional\n  received_date: 2026-07-15\n"
            "  patient: {birth_date: 1950-04-02, sex: F}\n"
            "  lines: [{line_number: 1, procedure: 99213, service_date: %s}]\n"
            "tests:\n  - name: late\n    expect: [{rule: TF-1Y, line: 1, carc: CO-29}]\n")
    (tests / "late.yaml").write_text(case % "2025-03-02")  # fires the base's version only
    run = run_pack(str(tmp_path / "child"))
    assert [c.outcome for c in run.cases] == ["passed"]
    assert [(rule_id, line) for rule_id, _, line in run.uncovered()] == [("TF-1Y", 1)]
    (tests / "late.yaml").write_text(case % "2026-03-02")
    run = run_pack(str(tmp_path / "child"))
    assert [c.outcome for c in run.cases] == ["passed"] and run.uncovered() == []
    assert [pack.facts(r).pack for r in run.own_rules()] == ["child"]


# ---- parameters -----------------------------------------------------------------------------

PARAM_RULES = """
    rule TF "Filed too late"
      category filing_limit
      for each line
      require claim.received_date <= line.service_date + param.filing_limit_days days
      else deny line CO-29 "filed more than {param.filing_limit_days} days after {line.service_date}"

    rule UNITS-CAP "Too many units"
      category unit_limit
      for each line where line.procedure in {97110}
      require line.units <= param.max_units
      else deny line CO-151
"""


def test_parameters_are_read_by_rules_and_changed_by_a_child(family, evaluate):
    base = base_meta("parameters:\n  filing_limit_days: 365\n  max_units: 4\n")
    base_pack_claim = build_claim([{"procedure": "97110", "units": 4, "service_date": "2026-01-15"}],
                                  received_date="2026-05-01")  # 106 days
    pack = family("", meta=child_meta("parameters:\n  filing_limit_days: 90\n  max_units: 3\n"),
                  base_rules=PARAM_RULES, base=base)
    result = evaluate(pack, base_pack_claim)
    assert fired(result) == [("TF", 1), ("UNITS-CAP", 1)]
    assert result.findings[0].message == "filed more than 90 days after 2026-01-15"
    base_only = rulesengine.load_pack(Path(pack.rules[0].pos.file).parent)
    assert fired(evaluate(base_only, base_pack_claim)) == []


TITLE_RULES = """
    rule UNITS-CAP "More than {param.max_units} units of therapeutic exercise"
      category unit_limit
      citation "ACME provider manual 4.2: {param.max_units} units a day"
      for each line where line.procedure in {97110}
      require line.units <= param.max_units
      else deny line CO-151
"""


def test_a_title_and_a_citation_read_parameters_like_a_message(make_pack, evaluate):
    pack = make_pack(TITLE_RULES, meta=base_meta("parameters:\n  max_units: 4\n"))
    [finding] = evaluate(pack, build_claim([{"procedure": "97110", "units": 5}])).findings
    assert finding.message == "More than 4 units of therapeutic exercise"  # no message: the title
    assert finding.citation == "ACME provider manual 4.2: 4 units a day"
    with pytest.raises(rulesengine.PackError) as caught:
        make_pack(TITLE_RULES.replace("{param.max_units} units a day", "{param.max_unit} units a day"),
                  meta=base_meta("parameters:\n  max_units: 4\n"))
    [problem] = caught.value.diagnostics
    assert (problem.code, problem.pos.line, problem.hint) == ("unknown-parameter", 3, "did you mean 'max_units'?")
    assert problem.message == "the citation names param.max_unit, which pack.yaml does not declare"
    with pytest.raises(rulesengine.PackError) as caught:
        make_pack(TITLE_RULES.replace("More than {param.max_units}", "More than {param.max_unit}"),
                  meta=base_meta("parameters:\n  max_units: 4\n"))
    assert [(d.pos.line, d.message) for d in caught.value.diagnostics] == [
        (1, "the title names param.max_unit, which pack.yaml does not declare")]


def test_an_unknown_parameter_is_named_with_a_suggestion(make_pack):
    with pytest.raises(rulesengine.PackError) as caught:
        make_pack(PARAM_RULES, meta=base_meta("parameters:\n  filing_limit_day: 365\n  max_units: 4\n"))
    in_rule, in_message = caught.value.diagnostics  # the date shift, then the message
    assert (in_rule.code, in_rule.pos.line) == ("unknown-parameter", 4)
    assert in_rule.message == "pack.yaml has no parameter 'filing_limit_days'"
    assert in_rule.hint == "did you mean 'filing_limit_day'?"
    assert (in_message.code, in_message.pos.line) == ("unknown-parameter", 5)


def test_a_text_parameter_cannot_move_a_date(make_pack):
    with pytest.raises(rulesengine.PackError) as caught:
        make_pack(PARAM_RULES, meta=base_meta('parameters:\n  filing_limit_days: "ninety"\n  max_units: 4\n'))
    assert [d.code for d in caught.value.diagnostics] == ["type-mismatch"]


# ---- value sets in files ------------------------------------------------------------------------

FILE_RULES = """
    valueset female_only_dx = icd10 from "valuesets/female_only.txt"

    rule SEX-DX "Female-only diagnosis on a male patient"
      category sex
      require no claim.diagnosis in female_only_dx or patient.sex != "M"
      else deny claim CO-7
"""


def test_a_value_set_file_is_read_a_code_a_line(tmp_path, evaluate):
    folder = write_pack(tmp_path / "p", FILE_RULES, meta=base_meta(), tables={
        "valuesets/female_only.txt": "# MCE v37 Female_Only (excerpt)\nN70.01  Acute salpingitis\n\nO80\n"})
    pack = rulesengine.load_pack(folder)
    male_n70 = build_claim(diagnoses=["N70.01"], patient={"sex": "M"})
    male_o80 = build_claim(diagnoses=["O80"], patient={"sex": "M"})
    female = build_claim(diagnoses=["N70.01"], patient={"sex": "F"})
    assert fired(evaluate(pack, male_n70)) == [("SEX-DX", None)]
    assert fired(evaluate(pack, male_o80)) == [("SEX-DX", None)]
    assert fired(evaluate(pack, female)) == []


def test_a_bad_code_in_a_value_set_file_is_reported_at_its_line(tmp_path):
    folder = write_pack(tmp_path / "p", FILE_RULES, meta=base_meta(), tables={
        "valuesets/female_only.txt": "N70.01\n\n  N70.01109\n"})
    with pytest.raises(rulesengine.PackError) as caught:
        rulesengine.load_pack(folder)
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == "bad-code"
    assert (Path(diagnostic.pos.file).name, diagnostic.pos.line, diagnostic.pos.column) == (
        "female_only.txt", 3, 3)
    assert "    3 |   N70.01109\n      |   ^\n" in caught.value.render()


def test_a_missing_value_set_file_is_reported_where_it_is_named(make_pack):
    with pytest.raises(rulesengine.PackError) as caught:
        make_pack(FILE_RULES)
    [diagnostic] = caught.value.diagnostics
    assert (diagnostic.code, diagnostic.pos.line, diagnostic.pos.column) == ("missing-file", 1, 38)


def test_the_content_hash_covers_value_set_files(tmp_path):
    folder = write_pack(tmp_path / "p", FILE_RULES, meta=base_meta(), tables={
        "valuesets/female_only.txt": "N70.01\n"})
    before = rulesengine.load_pack(folder).info.hash
    (folder / "valuesets" / "female_only.txt").write_text("N70.01\nO80\n")
    assert rulesengine.load_pack(folder).info.hash != before


def test_a_file_that_is_not_utf8_is_reported_at_its_first_bad_byte(tmp_path):
    # Excel's "Text (Tab delimited)" saves Windows-1252: 'ö' is the single byte 0xf6
    folder = write_pack(tmp_path / "p", FILE_RULES, meta=base_meta())
    (folder / "valuesets").mkdir()
    (folder / "valuesets" / "female_only.txt").write_bytes(b"N70.01\nO80  Entbindung, Gesch\xf6pf\n")
    with pytest.raises(rulesengine.PackError) as caught:
        rulesengine.load_pack(folder)
    [diagnostic] = caught.value.diagnostics
    assert (diagnostic.code, diagnostic.pos.line, diagnostic.pos.column) == ("bad-encoding", 2, 23)
    assert diagnostic.message == "byte 0xf6 is not UTF-8 text"
    (folder / "valuesets" / "female_only.txt").write_text("N70.01\n")
    (folder / "main.rules").write_bytes((folder / "main.rules").read_bytes() + b"# caf\xe9\n")
    with pytest.raises(rulesengine.PackError) as caught:
        rulesengine.load_pack(folder)
    assert [d.code for d in caught.value.diagnostics] == ["bad-encoding"]


def test_compile_counts_a_rule_with_versions_by_date_once(family):
    pack = family(CHILD_TF, meta=child_meta(YEAR_2026))
    result = CliRunner().invoke(main, ["compile", str(Path(pack.rules[-1].pos.file).parent)])
    assert result.exit_code == 0, result.output
    assert ": 2 rules (1 filing_limit, 1 medical_necessity), 1 more version by date; sha256:" \
        in result.output
