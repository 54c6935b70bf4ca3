"""The service through Starlette's test client: every endpoint and content type, keys on
and off, the limits, reloads (a good and a broken pack) and the decision log."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the service extra is not installed")
from click.testing import CliRunner  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from rulesengine.cli import main  # noqa: E402
from rulesengine.service import ServiceConfig, create_app  # noqa: E402
from rulesengine.service.checking import Limits  # noqa: E402
from rulesengine.service.keys import KeyRing, parse_keys  # noqa: E402

ROOT = Path(__file__).parent.parent
PACKS = [str(ROOT / "payer_rules/medicare"), str(ROOT / "payer_rules/acme-commercial")]
DIRTY = json.loads((ROOT / "examples/claims/dirty.json").read_text())
X12 = ROOT / "tests/fixtures/x12/professional-two-claims.837p"
FHIR = ROOT / "tests/fixtures/fhir"


def client(**config) -> TestClient:
    return TestClient(create_app(ServiceConfig(config.pop("packs", PACKS), None, **config)))


@pytest.fixture(scope="module")
def api():
    with client() as c:
        yield c


def cli_results(path: Path) -> dict:
    out = CliRunner().invoke(main, ["check", str(path), "--no-cache", "--format", "json",
                                    *[a for p in PACKS for a in ("--pack", p)]])
    return json.loads(out.stdout)


def test_one_claim_is_answered_with_its_result_as_the_cli_gives_it(api):
    answer = api.post("/v1/check", json=DIRTY[0])
    assert answer.status_code == 200
    expected = [r for r in cli_results(ROOT / "examples/claims/dirty.json")["results"]
                if r["claim_id"] == DIRTY[0]["claim_id"]]
    assert answer.json() == expected[0]
    assert answer.json()["pack"]["hash"].startswith("sha256:")
    assert answer.headers["x-request-id"]


def test_a_json_batch_is_the_cli_document_with_malformed_claims_in_place(api):
    body = (ROOT / "examples/claims/malformed.json").read_bytes()
    answer = api.post("/v1/check", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 200
    document, cli = answer.json(), cli_results(ROOT / "examples/claims/malformed.json")
    assert document["results"] == cli["results"]
    assert [e["path"] for e in document["errors"]] == [e["path"] for e in cli["errors"]]
    assert document["errors"][0]["position"] == 2
    assert "is not a valid date" in document["errors"][0]["message"]
    assert document["summary"]["unreadable"] == 1


def test_json_lines_in_and_out_in_input_order(api):
    lines = [json.dumps(c) for c in DIRTY[:3]] + ["{not json"] + [json.dumps(DIRTY[3])]
    answer = api.post("/v1/check", content="\n".join(lines) + "\n",
                      headers={"content-type": "application/x-ndjson"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/x-ndjson")
    rows = [json.loads(x) for x in answer.text.splitlines()]
    assert [r.get("claim_id") for r in rows] == [c["claim_id"] for c in DIRTY[:3]] + [None, DIRTY[3]["claim_id"]]
    assert rows[3]["error"]["position"] == 4


@pytest.fixture(scope="module")
def one_pack():
    with client(packs=PACKS[:1]) as c:  # one pack checks every claim, whatever its payer
        yield c


def test_x12_and_fhir_bodies_by_content_type(one_pack):
    api = one_pack
    x12 = api.post("/v1/check", content=X12.read_bytes(), headers={"content-type": "application/edi-x12"})
    assert [r["claim_id"] for r in x12.json()["results"]] == ["VITD-1001", "CXR-1002"]
    one = api.post("/v1/check", content=(FHIR / "claim.json").read_bytes(),
                   headers={"content-type": "application/fhir+json"})
    assert one.status_code == 200 and one.json()["claim_id"] == "C1001"
    bundle = api.post("/v1/check", content=(FHIR / "bundle.json").read_bytes(),
                      headers={"content-type": "application/fhir+json"})
    answered = bundle.json()["results"] + bundle.json()["errors"]
    assert sorted(r["claim_id"] for r in answered) == ["C2001", "C2002", "C2003"]


def test_an_x12_error_names_its_segment(one_pack):
    api = one_pack
    body = (ROOT / "tests/fixtures/x12/bad-segment-in-middle.837p").read_bytes()
    answer = api.post("/v1/check", content=body, headers={"content-type": "application/edi-x12"})
    errors = answer.json()["errors"]
    assert errors and "segment" in errors[0]["text"]


def test_an_unreadable_single_claim_is_a_positioned_problem(api):
    claim = {**DIRTY[0], "lines": [{**DIRTY[0]["lines"][0], "service_date": "2026-09-31"}]}
    answer = api.post("/v1/check", json=claim)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["type"] == "urn:rulesengine:problem:unreadable-claim"
    assert problem["errors"][0]["path"] == "$.lines[0].service_date"


def test_a_claim_of_no_packs_payer_is_a_problem_naming_the_packs(api):
    answer = api.post("/v1/check", json={**DIRTY[0], "payer": {"id": "nobody"}})
    assert answer.status_code == 422 and "the packs take" in answer.json()["detail"]


def test_unsupported_content_type(api):
    answer = api.post("/v1/check", content=b"x", headers={"content-type": "application/xml"})
    assert answer.status_code == 415 and "application/edi-x12" in answer.json()["detail"]


def test_explain_as_json_and_as_the_cli_text(api):
    as_json = api.post("/v1/explain", json=DIRTY[0])
    assert as_json.status_code == 200
    explained = as_json.json()["explanations"][0]
    assert any(e["fired"] for e in explained["explanations"])
    text = api.post("/v1/explain", json=DIRTY[0], headers={"accept": "text/plain"})
    assert text.text.startswith(f"{DIRTY[0]['claim_id']}  DENIED")


def test_packs_health_ready_metrics_openapi(api):
    packs = api.get("/v1/packs").json()["packs"]
    assert [p["id"] for p in packs] == ["medicare", "acme-commercial"]
    rule = next(r for r in packs[0]["rules"] if r["citation"])
    assert set(rule) >= {"id", "citation", "effective", "category"}
    assert api.get("/healthz").json() == {"status": "ok"}
    assert api.get("/readyz").json()["status"] == "ready"
    api.post("/v1/check", json=DIRTY[0])
    metrics = api.get("/metrics").text
    assert 'rulesengine_requests_total{endpoint="check",method="POST",status="200"}' in metrics
    assert 'rulesengine_findings_total{pack="medicare",rule_id="MN-VITD-82306"}' in metrics
    assert DIRTY[0]["patient"]["member_id"] not in metrics
    assert api.get("/openapi.json").json() == json.loads((ROOT / "docs/openapi.json").read_text())


def test_errors_are_problems_too(api):
    assert api.get("/v2/nothing").headers["content-type"] == "application/problem+json"
    assert api.get("/v1/check").status_code == 405


# ---- keys ----------------------------------------------------------------------------------

def keyring():
    from rulesengine.service.keys import new_key
    check_key, check_line = new_key("billing", ("check",))
    admin_key, admin_line = new_key("ops", ("check", "admin"))
    return check_key, admin_key, KeyRing(parse_keys(f"{check_line}\n{admin_line}\n", "keys"))


def test_keys_required_and_scoped():
    check_key, admin_key, ring = keyring()
    with client(keys=ring, keys_required=True) as c:
        assert c.post("/v1/check", json=DIRTY[0]).status_code == 401
        assert c.post("/v1/check", json=DIRTY[0], headers={"authorization": "Bearer wrong"}).status_code == 401
        assert c.post("/v1/check", json=DIRTY[0], headers={"authorization": f"Bearer {check_key}"}).status_code == 200
        assert c.post("/v1/check", json=DIRTY[0], headers={"x-api-key": check_key}).status_code == 200
        assert c.post("/v1/admin/reload", headers={"x-api-key": check_key}).status_code == 403
        assert c.post("/v1/admin/reload", headers={"x-api-key": admin_key}).status_code == 200
        assert c.get("/healthz").status_code == 200  # probes need no key


def test_a_key_file_holds_hashes_not_keys():
    from rulesengine.service.keys import KeyFileError
    with pytest.raises(KeyFileError, match="line 1: expected"):
        parse_keys("billing check rk_plainkey\n", "keys")
    with pytest.raises(KeyFileError, match="unknown scope write"):
        parse_keys("billing write sha256:" + "0" * 64, "keys")


def test_serve_refuses_a_network_address_without_keys():
    out = CliRunner().invoke(main, ["serve", "--pack", PACKS[0], "--host", "0.0.0.0"])
    assert out.exit_code == 2 and "give API keys" in out.output


def test_api_key_new_prints_the_key_once_and_keeps_its_hash(tmp_path):
    keys = tmp_path / "keys"
    out = CliRunner().invoke(main, ["api-key", "new", "billing-app", "--file", str(keys)])
    key = out.stdout.strip()
    assert key.startswith("rk_") and key not in keys.read_text()
    assert KeyRing(parse_keys(keys.read_text(), "keys")).find(key).name == "billing-app"


# ---- limits --------------------------------------------------------------------------------

def test_limits_named_in_their_problems():
    with client(limits=Limits(body_bytes=20_000, claims=2, lines=1, seconds=30)) as c:
        big = c.post("/v1/check", content=b"[" + b" " * 30_000 + b"]", headers={"content-type": "application/json"})
        assert big.status_code == 413 and big.json()["limit"] == {"name": "max_body_bytes", "value": 20_000}
        many = c.post("/v1/check", json=[DIRTY[1]] * 3)
        assert many.status_code == 422 and many.json()["limit"]["name"] == "max_claims"
        claim = {**DIRTY[0], "lines": DIRTY[0]["lines"] * 2}
        claim["lines"] = [{**ln, "line_number": n} for n, ln in enumerate(claim["lines"], 1)]
        lines = c.post("/v1/check", json=claim)
        assert lines.status_code == 422 and lines.json()["limit"]["name"] == "max_lines_per_claim"


def test_a_limit_hit_after_the_answer_began_ends_it_with_the_problem():
    import rulesengine.service.checking as checking
    with client(limits=Limits(claims=checking.CHUNK + 1)) as c:
        body = "\n".join(json.dumps({**DIRTY[1], "claim_id": f"C{n}"}) for n in range(checking.CHUNK + 5))
        answer = c.post("/v1/check", content=body, headers={"content-type": "application/x-ndjson"})
        rows = [json.loads(x) for x in answer.text.splitlines()]
        assert rows[-1]["problem"]["limit"]["name"] == "max_claims"
        assert len(rows) == checking.CHUNK + 2


def test_a_request_over_its_time_is_504():
    with client(limits=Limits(seconds=0.000001)) as c:
        from rulesengine.service.checking import CHUNK
        answer = c.post("/v1/check", json=[DIRTY[1]] * (CHUNK + 1))
        assert answer.status_code == 504 and answer.json()["limit"]["name"] == "max_request_seconds"


# ---- reloads and the decision log ----------------------------------------------------------

def test_reload_swaps_in_a_changed_pack_and_keeps_the_old_on_a_broken_one(tmp_path):
    pack = tmp_path / "medicare"
    shutil.copytree(PACKS[0], pack)
    with client(packs=[str(pack)]) as c:
        before = c.get("/v1/packs").json()["packs"][0]["hash"]
        meta = pack / "pack.yaml"
        meta.write_text(meta.read_text().replace("2026.3", "2026.4"))
        reloaded = c.post("/v1/admin/reload").json()
        assert reloaded["generation"] == 2 and reloaded["packs"][0]["version"] == "2026.4"
        rules = sorted(pack.glob("*.rules"))[0]
        rules.write_text(rules.read_text() + "\nrule BROKEN-1 \"x\"\n  when claim.nonsense is\n")
        failed = c.post("/v1/admin/reload")
        assert failed.status_code == 422
        assert failed.json()["type"] == "urn:rulesengine:problem:reload-failed"
        assert str(rules.name) in failed.json()["errors"][0]
        assert c.get("/v1/packs").json()["packs"][0]["version"] == "2026.4"  # still serving
        assert c.post("/v1/check", json=DIRTY[0]).json()["pack"]["version"] == "2026.4"
        assert c.get("/readyz").json()["last_reload_errors"]
        assert before != reloaded["packs"][0]["hash"]


def test_the_decision_log_holds_hashed_claim_ids_and_no_claim_data(tmp_path):
    log = tmp_path / "decisions.jsonl"
    with client(decision_log=str(log)) as c:
        c.post("/v1/check", json=DIRTY[0], headers={"x-request-id": "req-1"})
        c.post("/v1/check", json=DIRTY[:2], headers={"x-request-id": "req-2"})
    records = [json.loads(x) for x in log.read_text().splitlines()]
    assert [r["request_id"] for r in records] == ["req-1", "req-2", "req-2"]
    import hashlib
    assert records[0]["claim"] == hashlib.sha256(DIRTY[0]["claim_id"].encode()).hexdigest()
    assert records[0]["rules"] == ["MN-VITD-82306"] and records[0]["status"] == "denied"
    text = log.read_text()
    assert DIRTY[0]["claim_id"] not in text and DIRTY[0]["patient"]["member_id"] not in text


def test_json_lines_read_as_they_arrive_split_anywhere(api):
    body = "".join(json.dumps({**DIRTY[n % len(DIRTY)], "claim_id": f"S{n}"}) + "\n"
                   for n in range(150)).encode()

    def arriving():  # a chunked upload cut in mid-line, mid-character even
        for at in range(0, len(body), 777):
            yield body[at:at + 777]

    answer = api.post("/v1/check", content=arriving(), headers={"content-type": "application/x-ndjson"})
    rows = [json.loads(x) for x in answer.text.splitlines()]
    assert [r.get("claim_id") for r in rows] == [f"S{n}" for n in range(150)]
