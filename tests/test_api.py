"""The library API a billing system embeds: load once, check many, from many threads."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jsonschema

import rulesengine

ROOT = Path(__file__).resolve().parent.parent
CLAIMS = ROOT / "examples" / "claims"


def _claims():
    items = []
    for name in ("clean.json", "dirty.json"):
        items.extend(c for c in rulesengine.read_claims(CLAIMS / name)
                     if not isinstance(c, rulesengine.ClaimError))
    return items


def test_public_api_is_small_and_explicit():
    assert set(rulesengine.__all__) >= {"load_pack", "CompiledPack", "Result", "Finding",
                                        "read_claims", "PackError", "ClaimError"}


def test_result_carries_pack_identity_for_audit():
    pack = rulesengine.load_pack(ROOT / "payer_rules" / "medicare")
    result = pack.check(_claims()[0]).to_dict()
    assert result["pack"]["id"] == "medicare" and result["pack"]["version"] == "2026.3"
    assert result["pack"]["hash"].startswith("sha256:") and len(result["pack"]["hash"]) == 71
    # the same files give the same hash
    assert rulesengine.load_pack(ROOT / "payer_rules" / "medicare").info.hash == pack.info.hash


def test_hash_changes_when_a_table_changes(tmp_path):
    import shutil
    copy = tmp_path / "medicare"
    shutil.copytree(ROOT / "payer_rules" / "medicare", copy)
    before = rulesengine.load_pack(copy).info.hash
    table = copy / "tables" / "mue_practitioner.csv"
    table.write_text(table.read_text().replace("0001U,1,", "0001U,2,", 1))
    assert rulesengine.load_pack(copy).info.hash != before


def test_a_compiled_pack_is_safe_to_share_between_threads():
    pack = rulesengine.load_pack(ROOT / "payer_rules" / "medicare")
    claims = _claims() * 40
    expected = [pack.check_reference(c).to_dict() for c in claims]
    fresh = rulesengine.load_pack(ROOT / "payer_rules" / "medicare")  # memo tables start empty
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda c: fresh.check(c).to_dict(), claims))
    assert got == expected


def test_every_result_follows_the_published_schema():
    schema = json.loads((ROOT / "rulesengine" / "engine" / "result.schema.json").read_text())
    pack = rulesengine.load_pack(ROOT / "payer_rules" / "medicare")
    statuses = set()
    for claim in _claims():
        result = pack.check(claim).to_dict()
        jsonschema.validate(result, schema)
        statuses.add(result["status"])
    assert statuses == {"clean", "denied"}
