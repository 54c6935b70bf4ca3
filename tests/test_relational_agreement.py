"""Both evaluators agree on the relational constructs, with claim histories.

The pack tests/fixtures/relational_pack uses every relational construct: quantifiers and
aggregates over other lines and earlier lines, table lookups by a line's code (as a value
and as a set, keyed by the line in hand, another line or an earlier line, and without a
key), date windows in days and calendar months, arithmetic, list equality, first
diagnoses, "only" codes, and NCCI and MUE checks across claims. A seeded corpus of claims
is checked against a history of earlier claims of the same few members, held in memory
and in SQLite: the compiled evaluator, the reference interpreter and both histories must
give identical results, and every rule must fire.
"""

from __future__ import annotations

import collections
import json

import pytest

import rulesengine
from corpus import FIXTURES, random_claims
from rulesengine import MemoryHistory, SQLiteHistory
from rulesengine.claims import ClaimError, claim_from_data

SPEC = {
    "procedures": ["11042", "11043", "11045", "11046", "11102", "11103", "11104", "11400",
                   "24640", "24586", "29881", "29826", "95937", "99213", "99214", "99215",
                   "99291", "99292", "96365", "96366", "97110", "97140", "97530", "82306"],
    "pairs": [("11042", "11045"), ("11043", "11046"), ("11102", "11103"), ("99291", "99292"),
              ("29881", "29826"), ("99213", "11400"), ("96365", "96366"), ("97110", "97140"),
              ("95937", "95937"), ("11042", "11102")],
    "diagnoses": ["E11.9", "E11", "J18.9", "J18.1", "W19.XXXA", "V43.52XA", "S72.001A",
                  "M17.11", "I10", "Z00.00", "L97.412"],
    "modifiers": ["25", "26", "TC", "50", "80", "AS", "24", "57", "76", "91", "59", "LT"],
    "places": ["11", "22"],
    "revenue_codes": ["0300"],
    "plans": ["PartB"],
    "service_dates": ["2025-10-01", "2025-12-15", "2026-01-01", "2026-01-20", "2026-02-14",
                      "2026-03-31"],
    "birth_dates": ["1950-04-02"],
    "filing_offsets": [10],
    "npis": ["1234567893", "1245319599"],
    "members": 40,
}


def _claims(count: int, seed: int) -> list:
    claims = []
    for data in random_claims(count, seed, SPEC):
        built = claim_from_data(data)
        assert not isinstance(built, ClaimError), f"{data['claim_id']}: {built}"
        claims.append(built)
    return claims


@pytest.fixture(scope="module")
def pack():
    return rulesengine.load_pack(FIXTURES / "relational_pack")


@pytest.fixture(scope="module")
def histories(tmp_path_factory):
    earlier = _claims(500, 20251001)
    path = tmp_path_factory.mktemp("history") / "history.sqlite"
    with SQLiteHistory(path) as store:
        store.add_claims(earlier)
    sqlite = SQLiteHistory(path, create=False)
    yield MemoryHistory(earlier), sqlite
    sqlite.close()


@pytest.fixture(scope="module")
def results(pack, histories):
    memory, sqlite = histories
    found = []
    for claim in _claims(2500, 20260115):
        found.append((claim, pack.check(claim, history=memory),
                      pack.check_reference(claim, history=memory), pack.check(claim, history=sqlite)))
    return found


def test_compiled_and_reference_agree_with_a_history(results):
    bad = [r for r in results if r[1].to_dict() != r[2].to_dict()]
    if bad:
        claim, compiled, reference, _ = bad[0]
        pytest.fail(f"{len(bad)} of {len(results)} claims differ, first {claim.claim_id}:\n"
                    f"compiled:  {json.dumps(compiled.to_dict()['findings'], indent=1, default=str)}\n"
                    f"reference: {json.dumps(reference.to_dict()['findings'], indent=1, default=str)}")


def test_the_sqlite_history_answers_as_the_memory_one(results):
    differ = [claim.claim_id for claim, memory, _, sqlite in results if memory.to_dict() != sqlite.to_dict()]
    assert differ == []


def test_every_relational_rule_fires(pack, results):
    counts = collections.Counter(f.rule_id for _, compiled, _, _ in results for f in compiled.findings)
    never = [rule.id for rule in pack.rules if counts[rule.id] == 0]
    assert never == [], f"the corpus never triggers {never}"
    assert all(counts[rule.id] >= 5 for rule in pack.rules), counts


def test_checks_across_claims_find_the_other_claim(results):
    ncci = [(claim.claim_id, f.evidence["column1_claim"]) for claim, compiled, _, _ in results
            for f in compiled.findings if f.rule_id == "NCCI-ACROSS"]
    assert any(own != column1 for own, column1 in ncci)  # the column-one line on an earlier claim
    assert any(own == column1 for own, column1 in ncci)  # and on this one, named by its own id
    findings = [f for _, compiled, _, _ in results for f in compiled.findings]
    assert any(f.evidence["earlier_units"] > 0 for f in findings if f.rule_id == "MUE-ACROSS")
