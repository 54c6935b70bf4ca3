"""Large tables: read column by column with the same rows and the same positioned errors
as row by row, and held by a cached pack as their NCCI pair index alone, with the rows read
again (from unchanged files) only when the reference interpreter or an explanation asks."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import corpus
import rulesengine
from rulesengine.authoring.explain import explain_claim
from rulesengine.packs import cache, tables

ROOT = Path(__file__).resolve().parents[1]
MEDICARE = ROOT / "payer_rules" / "medicare"
CLAIMS = [c for c in rulesengine.read_claims(ROOT / "examples" / "claims")
          if not isinstance(c, rulesengine.ClaimError)]

MUE_RULES = '''
table mue from "tables/mue.csv"
  columns code hcpcs, limit integer, adjudication integer, note text, since date
'''

# CMS's practitioner PTP edits carry dated rows; a pair changing indicator on a date is how
# a quarter's file records an edit revised (NCCI policy manual, ch. I, modifier indicators)
PTP_RULES = '''
table ncci_ptp from "tables/ncci.csv"
  columns column1 hcpcs, column2 hcpcs, effective_date date, deletion_date date,
          modifier_indicator integer
  rows effective from effective_date through deletion_date

rule NCCI-PTP "Column-two code billed with its column-one code on the same day"
  category bundling
  for each line
  require not bundled per ncci_ptp bypass modifiers {59, XE, XP, XS, XU}
  else deny line CO-236 N20 "{line.procedure} bundles into {column1}"
'''
PTP_ROWS = ("column1,column2,effective_date,deletion_date,modifier_indicator\n"
            "80053,82565,20200101,*,1\n"          # the pair as first written: modifiers bypass it
            "80053,82565,20250101,*,0\n"          # revised: no modifier bypasses it
            "36415,36416,20200101,20241231,1\n"   # deleted at the end of 2024
            "99214,99211,20200101,*,9\n")         # not applied


def mue_csv(rows: int, rng: random.Random) -> list[str]:
    """Rows of a CMS-shaped MUE table, lower-case and padded cells among them."""
    codes = ["97110", "j1100", " 82306", "G0439", "36415 ", "0001u"]
    lines = ["code,limit,adjudication,note,since"]
    for _ in range(rows):
        lines.append(f"{rng.choice(codes)},{rng.randint(1, 9)},{rng.choice('123')},"
                     f"{rng.choice(['', ' policy ', 'clinical'])},{rng.choice(['20260101', '2025-07-01', '*'])}")
    return lines


def test_rows_read_by_column_are_the_rows_read_one_by_one(tmp_path):
    text = "\n".join(mue_csv(tables._CHUNK * 2 + 17, random.Random(5))) + "\n"
    pack = corpus.write_pack(tmp_path / "p", MUE_RULES, tables={"tables/mue.csv": text})
    table = rulesengine.load_pack(pack).tables["mue"]
    kinds, where = list(table.kinds), list(range(len(table.columns)))
    decl = object()  # not read when every row is good
    slow, problems = tables._rows_one_by_one(decl, Path("mue.csv"), text, 5, kinds, where)
    assert problems == [] and list(table.rows) == slow
    assert len(table.rows) == tables._CHUNK * 2 + 17
    assert {r[0] for r in table.rows} == {"97110", "J1100", "82306", "G0439", "36415", "0001U"}


def test_a_bad_cell_past_the_first_rows_read_is_named_by_its_line(make_pack):
    lines = mue_csv(tables._CHUNK + 100, random.Random(6))
    lines[tables._CHUNK + 50] = "97110,six,1,,20260101"
    with pytest.raises(rulesengine.PackError) as caught:
        make_pack(MUE_RULES, {"tables/mue.csv": "\n".join(lines) + "\n"})
    [problem] = caught.value.diagnostics
    assert (problem.code, problem.pos.line) == ("bad-row", tables._CHUNK + 51)
    assert "column limit (integer): 'six' is not a whole number" in problem.message


def test_blank_rows_are_skipped_wherever_they_are(make_pack):
    lines = mue_csv(tables._CHUNK + 10, random.Random(7))
    with_blanks = lines[:3] + ["", ",,,,"] + lines[3:] + [""]
    pack = make_pack(MUE_RULES, {"tables/mue.csv": "\n".join(with_blanks) + "\n"})
    assert len(pack.tables["mue"].rows) == tables._CHUNK + 10


def _ptp_claims() -> list[rulesengine.Claim]:
    claims = []
    for day in ("2024-06-03", "2026-02-02"):
        for modifier in ([], ["59"], ["XU"]):
            claims.append(corpus.build_claim([
                {"procedure": "80053", "service_date": day},
                {"procedure": "82565", "service_date": day, "modifiers": modifier},
                {"procedure": "36415", "service_date": day},
                {"procedure": "36416", "service_date": day},
                {"procedure": "99214", "service_date": day},
                {"procedure": "99211", "service_date": day}], claim_id=f"C-{day}-{modifier}"))
    return claims


def test_a_cached_pair_table_checks_and_explains_as_a_fresh_one(tmp_path):
    pack_dir = corpus.write_pack(tmp_path / "p", PTP_RULES, tables={"tables/ncci.csv": PTP_ROWS})
    fresh = rulesengine.load_pack(pack_dir)
    cache.load_cached(pack_dir, tmp_path / "c")
    cached = cache.load_cached(pack_dir, tmp_path / "c")
    claims = _ptp_claims()
    denied = {c.claim_id: [(f.line_number, f.rule_id) for f in cached.check(c).findings] for c in claims}
    # 2024: the first row (indicator 1) governs, so 59 or XU lets 82565 through; 36416 is bundled
    assert denied["C-2024-06-03-[]"] == [(2, "NCCI-PTP"), (4, "NCCI-PTP")]
    assert denied["C-2024-06-03-['59']"] == denied["C-2024-06-03-['XU']"] == [(4, "NCCI-PTP")]
    # 2026: the revised row (indicator 0) governs, and the 36415/36416 edit was deleted
    assert all(denied[f"C-2026-02-02-{m}"] == [(2, "NCCI-PTP")] for m in ("[]", "['59']", "['XU']"))
    for claim in claims:
        assert cached.check(claim).to_dict() == fresh.check(claim).to_dict()
        assert cached.check_reference(claim).to_dict() == fresh.check_reference(claim).to_dict()
        assert (explain_claim(cached, claim).to_dict() == explain_claim(fresh, claim).to_dict())
    assert cached.tables["ncci_ptp"].rows == fresh.tables["ncci_ptp"].rows


def test_the_medicare_pack_from_the_cache_reads_its_rows_again_only_when_asked(tmp_path):
    fresh = rulesengine.load_pack(MEDICARE)
    cache.load_cached(MEDICARE, tmp_path)
    cached = cache.load_cached(MEDICARE, tmp_path)
    assert cached.tables["ncci_ptp"]._rows is None  # the index alone until rows are asked for
    assert [cached.check(c).to_dict() for c in CLAIMS] == [fresh.check(c).to_dict() for c in CLAIMS]
    assert cached.tables["ncci_ptp"]._rows is None
    assert cached.tables["mue_practitioner"]._rows == fresh.tables["mue_practitioner"].rows  # held whole
    assert [cached.check_reference(c).to_dict() for c in CLAIMS] == [
        fresh.check_reference(c).to_dict() for c in CLAIMS]
    assert cached.tables["ncci_ptp"].rows == fresh.tables["ncci_ptp"].rows


def test_rows_are_not_read_again_from_files_that_changed(tmp_path):
    pack_dir = corpus.write_pack(tmp_path / "p", PTP_RULES, tables={"tables/ncci.csv": PTP_ROWS})
    cache.load_cached(pack_dir, tmp_path / "c")
    cached = cache.load_cached(pack_dir, tmp_path / "c")
    (pack_dir / "tables" / "ncci.csv").write_text(PTP_ROWS.replace(",9\n", ",1\n"))
    with pytest.raises(RuntimeError, match="its files changed since it was loaded; load it again"):
        cached.tables["ncci_ptp"].rows
