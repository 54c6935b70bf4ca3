"""The compiled evaluator gives exactly the reference interpreter's results.

A seeded random corpus of claims (codes inside and outside the pack's sets and tables,
modifiers, units, dates around every window boundary, missing received dates, ages, sexes,
pointers) is checked against a pack that uses every construct and rule kind
(tests/fixtures/agreement_pack). Both evaluators must give identical ``to_dict()`` for every
claim, and the corpus must make every rule fire, so the test cannot pass vacuously.
"""

from __future__ import annotations

import collections
import json

import pytest

import rulesengine
from corpus import FIXTURES, random_claims
from rulesengine.claims import ClaimError, claim_from_data

SEED = 20260115
COUNT = 3200

SPEC = {
    "procedures": [
        # in the pack's sets and tables
        "82306", "82652", "71045", "71046", "71047", "71048", "70551", "70552", "70553",
        "72141", "72148", "0001U", "81105", "0001A", "36591", "99213", "36415", "99203",
        "99205", "99212", "99215", "99387", "99460", "58150", "G0103", "G0438", "80053", "85025",
        # near them and outside them
        "70550", "70554", "71044", "71049", "99216", "99210", "99200", "93000", "85027", "G0439",
    ],
    "pairs": [("0001U", "81105"), ("0001A", "36591"), ("99213", "36415"), ("71046", "71045"),
              ("70553", "70551"), ("70553", "70552"), ("80053", "82306"), ("85025", "36415"),
              ("80053", "82652")],
    "diagnoses": [
        "E55.9", "E55.0", "E83.52", "E83.51", "M81.0", "M81.6", "M81.8", "M80.00XA", "E56.0",
        "J18.9", "J18.1", "J15.9", "J20.9", "R05.9", "R06.02", "R06.00", "R06.1", "R50.9",
        "Z13.21", "Z13.820", "Z13.6", "Z00.00", "Z38.00", "I10", "N40.0",
    ],
    "modifiers": ["59", "XE", "XP", "XS", "XU", "LT", "RT", "25", "26", "91"],
    "places": ["11", "19", "21", "22", "23"],
    "revenue_codes": ["0300", "0320", "0450", "0451", "0459", "0460", "0610"],
    "plans": ["HMO", "EPO", "PPO", "PartB", "LEGACY"],
    "service_dates": ["2023-12-31", "2024-02-29", "2025-01-01", "2025-09-30", "2025-10-01",
                      "2025-12-31", "2026-01-01", "2026-01-15", "2026-06-30", "2026-09-30",
                      "2026-10-01"],
    "birth_dates": ["1961-01-15", "1960-10-01", "1960-02-29", "2008-01-15", "2025-12-31",
                    "2025-12-10", "2026-09-02"],
    "filing_offsets": [0, 30, 59, 62, 90, 300, 365, 400],
}


@pytest.fixture(scope="module")
def pack():
    return rulesengine.load_pack(FIXTURES / "agreement_pack")


@pytest.fixture(scope="module")
def corpus():
    claims = []
    for data in random_claims(COUNT, SEED, SPEC):
        built = claim_from_data(data)
        assert not isinstance(built, ClaimError), f"{data['claim_id']}: {built}"
        claims.append(built)
    return claims


@pytest.fixture(scope="module")
def results(pack, corpus):
    return [(claim, pack.check(claim), pack.check_reference(claim)) for claim in corpus]


def test_the_corpus_is_large_and_varied(corpus):
    assert len(corpus) >= 3000
    assert len({c.claim_id for c in corpus}) == len(corpus)
    assert sum(c.received_date is None for c in corpus) > 100
    assert sum(c.claim_type == "institutional" for c in corpus) > 100
    assert sum(len(c.lines) > 1 for c in corpus) > 1000
    assert any(line.procedure is None for c in corpus for line in c.lines)
    assert any(line.diagnosis_pointers for c in corpus for line in c.lines)
    assert any(line.service_date_to for c in corpus for line in c.lines)


def test_compiled_and_reference_agree_on_every_claim(results):
    disagreements = []
    for claim, compiled, reference in results:
        if compiled.to_dict() != reference.to_dict():
            disagreements.append(claim.claim_id)
    if disagreements:
        claim, compiled, reference = next(r for r in results if r[0].claim_id == disagreements[0])
        pytest.fail(
            f"{len(disagreements)} of {len(results)} claims differ, first {claim.claim_id}:\n"
            f"compiled:  {json.dumps(compiled.to_dict()['findings'], indent=1)}\n"
            f"reference: {json.dumps(reference.to_dict()['findings'], indent=1)}")


def test_the_corpus_triggers_every_rule(pack, results):
    counts = collections.Counter(f.rule_id for _, compiled, _ in results for f in compiled.findings)
    never = [rule.id for rule in pack.rules if counts[rule.id] == 0]
    assert never == [], f"the corpus never triggers {never}"


def test_the_corpus_reaches_every_status_and_severity(results):
    statuses = collections.Counter(compiled.status for _, compiled, _ in results)
    assert {"clean", "review", "denied"} <= set(statuses)
    assert min(statuses.values()) >= 50
    severities = {f.severity for _, compiled, _ in results for f in compiled.findings}
    assert severities == {"deny", "review", "info"}


def test_the_corpus_hits_the_table_edge_cases(results):
    """Bundling by each indicator and MUE by each adjudication indicator, not just once."""
    findings = [f for _, compiled, _ in results for f in compiled.findings]
    indicators = collections.Counter(f.evidence["modifier_indicator"] for f in findings
                                     if f.rule_id == "NCCI-PTP")
    assert indicators[0] > 10 and indicators[1] > 10
    mais = collections.Counter(f.evidence["adjudication"] for f in findings if f.rule_id == "MUE")
    assert mais[1] > 10 and mais[2] > 10 and mais[3] > 10
    summed = [f for f in findings if f.rule_id == "MUE" and f.evidence["adjudication"] != 1
              and f.evidence["units_billed"] != f.evidence["line.units"]]
    assert len(summed) > 10
    claim_scoped = [f for f in findings if f.rule_id == "NCCI-LAB"]
    assert claim_scoped and all(f.scope == "claim" and f.line_number is None for f in claim_scoped)
