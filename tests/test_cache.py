"""The compiled-pack cache: an entry is used only for exactly the same files and engine,
gives the same findings as a fresh load, and anything stale, corrupt, foreign or not the
user's own is ignored and rebuilt, never trusted."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

import corpus
import rulesengine
from rulesengine.cli import main
from rulesengine.packs import cache

ROOT = Path(__file__).resolve().parents[1]
MEDICARE = ROOT / "payer_rules" / "medicare"
ACME = ROOT / "payer_rules" / "acme-commercial"
CLAIMS = [c for path in sorted((ROOT / "examples" / "claims").glob("*.json"))
          for c in rulesengine.read_claims(path) if not isinstance(c, rulesengine.ClaimError)]


def results(pack) -> list[dict]:
    return [pack.check(c).to_dict() for c in CLAIMS]


def entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.json"))


@pytest.mark.parametrize("pack_dir", [MEDICARE, ACME])
def test_a_cached_pack_checks_as_a_fresh_one(tmp_path, pack_dir, monkeypatch):
    fresh = rulesengine.load_pack(pack_dir)
    first = cache.load_cached(pack_dir, tmp_path)
    [entry] = entries(tmp_path)
    monkeypatch.setattr(cache, "load_pack", lambda path: pytest.fail("loaded again"))
    again = cache.load_cached(pack_dir, tmp_path)
    assert again.info == fresh.info and again.layers == fresh.layers
    assert results(again) == results(fresh) == results(first)
    assert oct(entry.stat().st_mode & 0o777) == "0o600"


def test_a_changed_file_is_a_new_entry(tmp_path):
    pack = corpus.write_pack(tmp_path / "p", {"main.rules": '''
        table limits from "tables/limits.csv"
          columns code hcpcs, max integer

        rule UNITS "units above the limit"
          category unit_limit
          for each line where line.procedure in {97110}
          require line.units <= limits[line.procedure].max
          else deny line CO-151 "too many units"
        '''}, tables={"tables/limits.csv": "code,max\n97110,4\n"})
    claim = corpus.build_claim([{"procedure": "97110", "units": 3}])
    assert cache.load_cached(pack, tmp_path / "c").check(claim).status == "clean"
    (pack / "tables" / "limits.csv").write_text("code,max\n97110,2\n")
    assert cache.load_cached(pack, tmp_path / "c").check(claim).status == "denied"
    assert len(entries(tmp_path / "c")) == 2


@pytest.mark.parametrize("damage", [
    b"\x00\xff not json at all",
    b'{"key": "wrong"}',
    b"[1, 2, 3]",
])
def test_a_corrupt_or_stale_entry_is_rebuilt(tmp_path, damage):
    cache.load_cached(MEDICARE, tmp_path)
    [entry] = entries(tmp_path)
    entry.write_bytes(damage)
    entry.chmod(0o600)
    assert results(cache.load_cached(MEDICARE, tmp_path)) == results(rulesengine.load_pack(MEDICARE))
    assert json.loads(entry.read_bytes())["key"] == entry.stem  # written anew


def test_an_entry_naming_another_class_is_never_built(tmp_path, monkeypatch):
    cache.load_cached(MEDICARE, tmp_path)
    [entry] = entries(tmp_path)
    data = json.loads(entry.read_bytes())
    data["rules"][0] = {"c": "Path", "f": ["/etc/passwd"]}  # not a class of the rule language
    entry.write_text(json.dumps(data))
    entry.chmod(0o600)
    rebuilt = []
    real = cache.load_pack
    monkeypatch.setattr(cache, "load_pack", lambda path: rebuilt.append(path) or real(path))
    assert results(cache.load_cached(MEDICARE, tmp_path)) == results(rulesengine.load_pack(MEDICARE))
    assert rebuilt == [MEDICARE]


def test_an_entry_others_could_write_is_ignored(tmp_path, monkeypatch):
    cache.load_cached(MEDICARE, tmp_path)
    [entry] = entries(tmp_path)
    entry.chmod(0o666)
    rebuilt = []
    real = cache.load_pack
    monkeypatch.setattr(cache, "load_pack", lambda path: rebuilt.append(path) or real(path))
    cache.load_cached(MEDICARE, tmp_path)
    assert rebuilt == [MEDICARE]
    assert oct(entry.stat().st_mode & 0o777) == "0o600"


def test_a_cache_that_cannot_be_written_is_no_cache(tmp_path):
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    assert results(cache.load_cached(MEDICARE, blocked / "cache")) == results(rulesengine.load_pack(MEDICARE))


def test_check_uses_the_cache_folder_and_no_cache_keeps_nothing(tmp_path):
    claims = ROOT / "examples" / "claims" / "clean.json"
    runner = CliRunner()
    with_cache = runner.invoke(main, ["check", str(claims), "--pack", str(MEDICARE),
                                      "--cache-dir", str(tmp_path / "c")])
    assert with_cache.exit_code == 0 and len(entries(tmp_path / "c")) == 1
    again = runner.invoke(main, ["check", str(claims), "--pack", str(MEDICARE),
                                 "--cache-dir", str(tmp_path / "c")])
    assert again.stdout == with_cache.stdout
    none = runner.invoke(main, ["check", str(claims), "--pack", str(MEDICARE), "--no-cache",
                                "--cache-dir", str(tmp_path / "n")])
    assert none.stdout == with_cache.stdout and not (tmp_path / "n").exists()


def test_the_default_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RULESENGINE_CACHE", str(tmp_path / "mine"))
    assert cache.default_folder() == tmp_path / "mine"
    monkeypatch.delenv("RULESENGINE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.default_folder() == tmp_path / "xdg" / "rulesengine"
    assert os.environ.get("RULESENGINE_CACHE") is None


def test_a_pack_extending_a_missing_pack_is_told_as_without_the_cache(tmp_path):
    # the cache's key reads the packs extended; a missing one is the load's to report, with
    # the line of pack.yaml that names it (it was a bare "No such file or directory")
    import shutil
    shutil.copytree(ACME, tmp_path / "acme-commercial")
    with pytest.raises(rulesengine.PackError) as caught:
        cache.load_cached(tmp_path / "acme-commercial", tmp_path / "cache")
    assert "is not a rule pack: it has no pack.yaml" in str(caught.value)
    assert "pack.yaml:5:11" in str(caught.value)


@pytest.mark.parametrize("pack_dir", [MEDICARE, ACME])
def test_a_pack_as_bytes_checks_as_the_pack_it_was_made_from(pack_dir, tmp_path):
    # what travels to a Spark executor: no file of the pack is read where it is made again
    pack = rulesengine.load_pack(pack_dir)
    data = cache.pack_bytes(pack)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.chdir(elsewhere)
    try:
        again = cache.pack_from_bytes(data)
    finally:
        os.chdir(ROOT)
    assert again.info == pack.info
    assert results(again) == results(pack)
    assert any(r["findings"] for r in results(again))


def test_a_pack_as_bytes_carries_its_code_sets(tmp_path):
    pack_dir = corpus.write_pack(tmp_path / "p", """
        rule DX-VALID "Every diagnosis a line points to is billable on its date"
          category code_validity
          for each line
          require all line.diagnosis is valid
          else deny line CO-16 M76 "{line.diagnosis} not billable on {line.service_date}"
        """)
    (pack_dir / "codesets").mkdir()
    # a constructed code set for FY2025 in which E11.A (billable only from FY2026) is billable
    (pack_dir / "codesets" / "icd10cm-2024-10-01.txt").write_text("E11 header\nE11A\n")
    pack = rulesengine.load_pack(pack_dir)
    data = cache.pack_bytes(pack)
    (pack_dir / "codesets" / "icd10cm-2024-10-01.txt").unlink()  # made again without the file
    again = cache.pack_from_bytes(data)
    for diagnosis, denied in (("E11.A", False), ("G35", True)):
        claim = corpus.build_claim(claim_id="D1", diagnoses=[diagnosis], received_date="2025-03-03",
                                   lines=[{"procedure": "99213", "service_date": "2025-03-03"}])
        assert again.check(claim).to_dict() == pack.check(claim).to_dict()
        assert bool(again.check(claim).findings) is denied


def test_bytes_that_are_not_a_pack_are_refused():
    for data in (b"not json", b"[]", b'{"key": "x"}'):
        with pytest.raises(ValueError, match="not a pack's bytes"):
            cache.pack_from_bytes(data)
