"""Claim history: the SQLite store, `rulesengine history`, and the frequency and duplicate
rules that read it (payer_rules/medicare-frequency: the annual wellness visit, 42 CFR 410.15)."""

from __future__ import annotations

import json
import random
import sqlite3
import threading
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

import rulesengine
from rulesengine.engine import history as hist
from rulesengine.cli import history as history_cli
from rulesengine.claims import claim_from_data
from rulesengine.language.diagnostics import PackError
from rulesengine.engine.history import (
    HistoryError,
    HistoryRequired,
    MemoryHistory,
    SQLiteHistory,
    window_start,
)

ROOT = Path(__file__).resolve().parent.parent
PACK_DIR = ROOT / "payer_rules" / "medicare-frequency"
NPI, OTHER_NPI = "1234567893", "1245319599"


def claim(claim_id, *lines, member="1EG4TE5MK73", npi=NPI, frequency="1"):
    """A Medicare Part B claim; each line is (procedure, date of service[, modifiers])."""
    made = claim_from_data(claim_data(claim_id, *lines, member=member, npi=npi, frequency=frequency))
    assert not isinstance(made, rulesengine.ClaimError), made
    return made


def claim_data(claim_id, *lines, member="1EG4TE5MK73", npi=NPI, frequency="1"):
    built = []
    for i, spec in enumerate(lines, 1):
        procedure, day, *mods = spec
        built.append({"line_number": i, "procedure": procedure, "units": 1, "service_date": day,
                      "modifiers": list(mods[0]) if mods else [], "diagnosis_pointers": [1]})
    last = max(date.fromisoformat(s[1]) for s in lines)
    data = {"claim_id": claim_id, "claim_type": "professional", "frequency_code": frequency,
            "payer": {"id": "medicare", "plan": "PartB"},
            "received_date": (last + timedelta(days=5)).isoformat(), "place_of_service": "11",
            "billing_provider": {"npi": npi, "taxonomy": "207Q00000X"},
            "patient": {"member_id": member, "birth_date": "1955-04-02", "sex": "F"},
            "diagnoses": ["Z00.00"], "lines": built}
    return data


@pytest.fixture(scope="module")
def pack():
    return rulesengine.load_pack(PACK_DIR)


def both(pack, c, history):
    """The findings as dicts, after checking that both evaluators agree."""
    compiled = pack.check(c, history=history).to_dict()
    assert pack.check_reference(c, history=history).to_dict() == compiled
    return compiled["findings"]


# ---- the window ---------------------------------------------------------------------------

def test_months_count_whole_calendar_months():
    # per 12 months: the month of service and the 11 before it
    assert window_start(date(2026, 3, 15), 12, "months") == date(2025, 4, 1)
    assert window_start(date(2026, 2, 28), 12, "months") == date(2025, 3, 1)
    assert window_start(date(2026, 3, 15), 1, "year") == date(2025, 4, 1)
    assert window_start(date(2026, 1, 31), 1, "month") == date(2026, 1, 1)


def test_days_are_exact_and_lifetime_has_no_start():
    assert window_start(date(2026, 3, 15), 365, "days") == date(2025, 3, 16)
    assert window_start(date(2026, 3, 15), 1, "day") == date(2026, 3, 15)
    assert window_start(date(2026, 3, 15), None, None) is None


# ---- the annual wellness visit ---------------------------------------------------------------

def test_g0439_within_eleven_full_months_is_denied_119_with_the_prior_date(pack):
    history = MemoryHistory([claim("AWV-2025", ("G0439", "2025-03-31"))])
    found = both(pack, claim("AWV-2026", ("G0439", "2026-02-28")), history)
    assert [(f["rule_id"], f["line_number"], f["group_code"], f["carc"]) for f in found] == [
        ("FREQ-AWV-SUBSEQUENT", 1, "CO", "119")]
    assert found[0]["evidence"]["prior_dates"] == ["2025-03-31"]
    assert found[0]["message"] == ("G0439 is once per 12 months after an IPPE or AWV; "
                                   "one was billed on 2025-03-31")


def test_g0439_in_the_twelfth_month_after_passes(pack):
    history = MemoryHistory([claim("AWV-2025", ("G0439", "2025-03-31"))])
    assert both(pack, claim("AWV-2026", ("G0439", "2026-03-01")), history) == []


def test_a_later_recorded_visit_does_not_bar_an_earlier_one(pack):
    # the window ends on the line's date of service
    history = MemoryHistory([claim("AWV-LATER", ("G0439", "2026-06-10"))])
    assert both(pack, claim("AWV-EARLY", ("G0439", "2026-01-10")), history) == []


@pytest.mark.parametrize("earlier", ["G0402", "G0438"])  # an IPPE or an initial AWV
def test_g0439_within_12_months_of_an_ippe_or_initial_awv_is_denied(pack, earlier):
    history = MemoryHistory([claim("EARLIER", (earlier, "2025-06-10"))])
    found = both(pack, claim("AWV-2026", ("G0439", "2026-05-29")), history)
    assert [(f["rule_id"], f["evidence"]["prior_dates"]) for f in found] == [
        ("FREQ-AWV-SUBSEQUENT", ["2025-06-10"])]
    assert both(pack, claim("AWV-2026", ("G0439", "2026-06-01")), history) == []


def test_counting_names_codes_one_by_one(tmp_path):
    rules = ('rule F "x"\n  category frequency\n  for each line where line.procedure in {G0439}\n'
             '  require at most 1 per 12 months counting {G0438, G04*}\n  else deny line CO-119\n')
    assert _problems(tmp_path, rules) == [("bad-code", 4, 52)]


def test_g0438_is_once_in_a_lifetime(pack):
    history = MemoryHistory([claim("IAWV-2016", ("G0438", "2016-05-02"))])
    found = both(pack, claim("IAWV-2026", ("G0438", "2026-05-04")), history)
    assert [(f["rule_id"], f["carc"], f["evidence"]["prior_dates"]) for f in found] == [
        ("FREQ-AWV-INITIAL", "119", ["2016-05-02"])]


def test_another_members_visit_does_not_count(pack):
    history = MemoryHistory([claim("IAWV-OTHER", ("G0438", "2025-05-02"), member="5TP7WQ2RN48")])
    assert both(pack, claim("IAWV-2026", ("G0438", "2026-05-04")), history) == []


def test_rechecking_a_recorded_claim_does_not_count_its_own_copy(pack):
    awv = claim("AWV-2026", ("G0439", "2026-02-28"))
    assert both(pack, awv, MemoryHistory([awv])) == []


def test_two_visits_on_one_claim_deny_the_second_line_only(pack):
    found = both(pack, claim("AWV-TWICE", ("G0439", "2026-02-03"), ("G0439", "2026-02-03")),
                 MemoryHistory())
    assert [(f["rule_id"], f["line_number"], f["evidence"]["prior_dates"]) for f in found] == [
        ("FREQ-AWV-SUBSEQUENT", 2, ["2026-02-03"])]


def test_the_earlier_date_wins_whatever_the_line_order(pack):
    found = both(pack, claim("AWV-2", ("G0439", "2026-05-03"), ("G0439", "2026-01-03")),
                 MemoryHistory())
    assert [(f["line_number"], f["evidence"]["prior_dates"]) for f in found] == [(1, ["2026-01-03"])]


# ---- duplicates -------------------------------------------------------------------------------

def test_same_member_code_date_and_npi_on_another_claim_is_a_duplicate_18(pack):
    history = MemoryHistory([claim("OV-1", ("99213", "2026-06-02"))])
    found = both(pack, claim("OV-1-AGAIN", ("99213", "2026-06-02")), history)
    assert [(f["rule_id"], f["line_number"], f["group_code"], f["carc"]) for f in found] == [
        ("DUP-SERVICE", 1, "CO", "18")]
    assert found[0]["evidence"]["earlier.claim_id"] == "OV-1"  # the line the rule found
    assert found[0]["message"] == ("99213 on 2026-06-02 was already billed, with the same modifiers,"
                                   " on claim OV-1 (line 1)")


@pytest.mark.parametrize("other", [
    claim("OV-1", ("99213", "2026-06-02"), npi=OTHER_NPI),   # another provider
    claim("OV-1", ("99213", "2026-06-03")),                  # another day
    claim("OV-1", ("99214", "2026-06-02")),                  # another code
    claim("OV-1", ("99213", "2026-06-02"), member="5TP7WQ2RN48"),
])
def test_not_a_duplicate_when_anything_differs(pack, other):
    assert both(pack, claim("OV-2", ("99213", "2026-06-02")), MemoryHistory([other])) == []


def test_a_repeat_procedure_with_modifier_76_is_not_a_duplicate(pack):
    history = MemoryHistory([claim("ECG-1", ("93000", "2026-06-02"))])
    assert both(pack, claim("ECG-2", ("93000", "2026-06-02", ["76"])), history) == []


# ---- a history is required ------------------------------------------------------------------

def test_checking_without_a_history_is_an_error_naming_the_rules(pack):
    c = claim("AWV", ("G0439", "2026-02-28"))
    for method in (pack.check, pack.check_reference):
        with pytest.raises(HistoryRequired) as error:
            method(c)
        assert set(error.value.rule_ids) == {
            "FREQ-AWV-INITIAL", "FREQ-AWV-SUBSEQUENT", "DUP-SERVICE", "GLOBAL-90-VISIT",
            "FREQ-COLONOSCOPY-AVERAGE", "FREQ-COLONOSCOPY-HIGH-RISK", "NCCI-PTP", "MUE-PRACTITIONER",
            "AOC-PRIMARY"}
        assert "medicare-frequency" in str(error.value) and "--history" in str(error.value)


def test_a_pack_without_history_rules_needs_no_history():
    medicare = rulesengine.load_pack(ROOT / "payer_rules" / "medicare")
    assert medicare.history_rules == ()
    assert medicare.check(claim("AWV", ("G0439", "2026-02-28"))).status == "clean"


# ---- the language ----------------------------------------------------------------------------

def _write_pack(folder: Path, rules: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pack.yaml").write_text("id: freq\nversion: '1'\n", encoding="utf-8")
    (folder / "freq.rules").write_text(rules, encoding="utf-8")
    return folder


def _problems(tmp_path, rules):
    with pytest.raises(PackError) as error:
        rulesengine.load_pack(_write_pack(tmp_path / "p", rules))
    return [(d.code, d.pos.line, d.pos.column) for d in error.value.diagnostics]


def test_a_frequency_rule_must_look_at_lines(tmp_path):
    assert _problems(tmp_path, 'rule F "x"\n  category frequency\n  require at most 1 per lifetime\n'
                               '  else deny claim CO-119\n') == [("needs-line-scope", 3, 3)]


@pytest.mark.parametrize("limit,period,column", [("0", "per lifetime", 19), ("1.5", "per lifetime", 19),
                                                 ("1", "per 0 months", 3), ("1", "per 300 years", 3)])
def test_limits_and_windows_are_whole_and_sensible(tmp_path, limit, period, column):
    rules = (f'rule F "x"\n  category frequency\n  for each line where line.procedure in {{G0439}}\n'
             f'  require at most {limit} {period}\n  else deny line CO-119\n')
    assert _problems(tmp_path, rules) == [("bad-number", 4, column)]


def test_the_new_words_are_reserved(tmp_path):
    problems = _problems(tmp_path, "valueset lifetime = hcpcs {G0438}\n")
    assert problems == [("syntax", 1, 10)]


def test_a_message_may_name_the_limit_and_period_but_not_unknown_values(tmp_path):
    rules = ('rule F "x"\n  category frequency\n  for each line where line.procedure in {G0439}\n'
             '  require at most 2 per 365 days\n'
             '  else deny line CO-119 "{limit} per {period}, seen {prior_dates} {column1}"\n')
    assert [p[0] for p in _problems(tmp_path, rules)] == ["unknown-placeholder"]


def test_per_365_days_counts_exact_days(tmp_path):
    pack = rulesengine.load_pack(_write_pack(tmp_path / "p", (
        'rule F "x"\n  category frequency\n  for each line where line.procedure in {G0439}\n'
        '  require at most 1 per 365 days\n'
        '  else deny line CO-119 "at most {limit} per {period}; seen {prior_dates}"\n')))
    history = MemoryHistory([claim("A", ("G0439", "2025-03-16"))])
    found = both(pack, claim("B", ("G0439", "2026-03-15")), history)
    assert [f["message"] for f in found] == ["at most 1 per 365 days; seen 2025-03-16"]
    assert both(pack, claim("B", ("G0439", "2026-03-16")), history) == []


# ---- the SQLite store --------------------------------------------------------------------------

def test_store_records_lines_and_keeps_a_schema_version(tmp_path):
    path = tmp_path / "h.sqlite"
    with SQLiteHistory(path) as store:
        counts = store.add_claims([claim("C1", ("G0439", "2025-03-31"), ("99213", "2025-03-31", ["25"]))])
        assert counts == {"claims": 1, "lines": 2, "replaced": 0, "voided": 0}
        assert store.lines_for("1EG4TE5MK73", "G0439") == [
            hist.HistoryLine("C1", date(2025, 3, 31), NPI, "G0439", (), 1, 1, "medicare")]
        assert sorted(store.member_lines("1EG4TE5MK73")) == sorted([
            hist.HistoryLine("C1", date(2025, 3, 31), NPI, "G0439", (), 1, 1, "medicare"),
            hist.HistoryLine("C1", date(2025, 3, 31), NPI, "99213", ("25",), 1, 2, "medicare")])
    db = sqlite3.connect(path)
    assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("2",)
    row = db.execute("SELECT member_id, claim_id, line_number, procedure, modifiers, service_date, "
                     "billing_npi, payer_id, frequency_code FROM claim_lines WHERE procedure='99213'").fetchone()
    assert row == ("1EG4TE5MK73", "C1", 2, "99213", "25", "2025-03-31", NPI, "medicare", "1")
    indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "claim_lines_member" in indexes


def test_a_replacement_replaces_and_a_void_removes(tmp_path):
    with SQLiteHistory(tmp_path / "h.sqlite") as store:
        store.add(claim("C1", ("G0439", "2025-03-31")))
        counts = store.add_claims([claim("C1", ("G0439", "2025-04-02"), frequency="7")])
        assert counts["replaced"] == 1
        assert [h.service_date for h in store.lines_for("1EG4TE5MK73", "G0439")] == [date(2025, 4, 2)]
        assert store.add_claims([claim("C1", ("G0439", "2025-04-02"), frequency="8")])["voided"] == 1
        assert store.lines_for("1EG4TE5MK73", "G0439") == []
    memory = MemoryHistory([claim("C1", ("G0439", "2025-03-31"))])
    memory.add(claim("C1", ("G0439", "2025-03-31"), frequency="8"))
    assert memory.lines_for("1EG4TE5MK73", "G0439") == []


def test_a_crash_while_recording_records_nothing(tmp_path):
    def claims():
        yield claim("C1", ("G0439", "2025-03-31"))
        raise OSError("disk unplugged")
    with SQLiteHistory(tmp_path / "h.sqlite") as store:
        with pytest.raises(OSError):
            store.add_claims(claims())
        assert store.lines_for("1EG4TE5MK73", "G0439") == []


def test_a_file_that_is_not_a_history_or_is_newer_is_refused(tmp_path):
    junk = tmp_path / "notes.sqlite"
    junk.write_text("not a database, just notes\n" * 50, encoding="utf-8")
    with pytest.raises(HistoryError, match="not a claim history"):
        SQLiteHistory(junk)
    newer = tmp_path / "newer.sqlite"
    SQLiteHistory(newer).close()
    db = sqlite3.connect(newer)
    db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    db.commit()
    db.close()
    with pytest.raises(HistoryError, match="schema 99 is newer"):
        SQLiteHistory(newer)
    with pytest.raises(HistoryError, match="no claim history here"):
        hist.open_history(tmp_path / "typo.sqlite")


def test_path_from_option_then_environment_then_default(monkeypatch):
    monkeypatch.delenv(hist.ENV_VAR, raising=False)
    assert hist.resolve_path() == Path("rulesengine-history.sqlite")
    monkeypatch.setenv(hist.ENV_VAR, "/data/h.sqlite")
    assert hist.resolve_path() == Path("/data/h.sqlite")
    assert hist.resolve_path("mine.sqlite") == Path("mine.sqlite")


def test_the_store_checks_like_memory_and_serves_threads(tmp_path, pack):
    with SQLiteHistory(tmp_path / "h.sqlite") as store:
        store.add(claim("AWV-2025", ("G0439", "2025-03-31")))
        results = []

        def work():
            results.append(pack.check(claim("AWV-2026", ("G0439", "2026-02-28")), history=store).status)
        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == ["denied"] * 8


# ---- the command line ---------------------------------------------------------------------------

def _claims_file(path: Path, claims: list[dict]) -> Path:
    path.write_text(json.dumps(claims), encoding="utf-8")
    return path


def _data(claim_id, procedure, day, frequency="1"):
    return claim_data(claim_id, (procedure, day), frequency=frequency)


def test_history_add_records_a_folder_reports_bad_claims_and_show_lists(tmp_path):
    folder = tmp_path / "claims"
    folder.mkdir()
    _claims_file(folder / "a.json", [_data("C1", "G0438", "2024-05-02"), _data("C2", "G0439", "2025-05-06"),
                                     {"claim_id": "BROKEN"}])
    _claims_file(folder / "b.json", [_data("C2", "G0439", "2025-05-09", "7")])
    store = tmp_path / "h.sqlite"
    runner = CliRunner()
    result = runner.invoke(history_cli.command, ["add", str(folder), "--history", str(store)])
    assert result.exit_code == 2, result.output
    assert "a.json: claim 3 (BROKEN)" in result.output
    assert "recorded 3 claims (3 lines), 1 replacing earlier copies, 0 voids applied, 1 unreadable" in result.output
    shown = runner.invoke(history_cli.command, ["show", "--member", "1EG4TE5MK73", "--history", str(store)])
    assert shown.exit_code == 0
    assert [ln.split()[:2] for ln in shown.output.splitlines()] == [["2024-05-02", "G0438"],
                                                                  ["2025-05-09", "G0439"]]


def test_history_add_uses_the_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv(hist.ENV_VAR, str(tmp_path / "env.sqlite"))
    f = _claims_file(tmp_path / "c.json", [_data("C1", "G0438", "2024-05-02")])
    result = CliRunner().invoke(history_cli.command, ["add", str(f)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "env.sqlite").exists()


def test_history_show_of_a_missing_file_is_an_error(tmp_path):
    result = CliRunner().invoke(history_cli.command, ["show", "--member", "X", "--history", str(tmp_path / "no.sqlite")])
    assert result.exit_code == 1 and "no claim history here" in result.output


# ---- both evaluators agree on random histories ---------------------------------------------------

AGREEMENT_RULES = """
rule F-LIFE "once"
  category frequency
  for each line where line.procedure in {G0438}
  require at most 1 per lifetime
  else deny line CO-119 "{prior_dates}"

rule F-YEAR "yearly"
  category frequency
  for each line where line.procedure in {G0439, G0438}
  require at most 1 per 12 months
  else review claim CO-119 "{prior_dates}"

rule F-AWV "an AWV or IPPE a year"
  category frequency
  for each line where line.procedure in {G0439}
  require at most 1 per 1 year counting {G0402, G0438, G0439}
  else deny line CO-119 "{prior_dates}"

rule F-DAYS "twice in 30 days"
  category frequency
  when claim.frequency_code != "8"
  for each line where line.procedure in {99213, 99214}
  require at most 2 per 30 days
  else deny line CO-119 "{limit} per {period}: {prior_dates}"

rule DUP "duplicate"
  category duplicate_claim
  for each line where no line.modifier in {76, 77}
  require no duplicate
  else deny line CO-18 "{duplicate_claims}"
"""


def test_compiled_and_reference_agree_on_random_histories(tmp_path):
    pack = rulesengine.load_pack(_write_pack(tmp_path / "agree", AGREEMENT_RULES))
    rng = random.Random(20261123)
    members, npis = ["1EG4TE5MK73", "5TP7WQ2RN48", "3KX9RM2AA10"], [NPI, OTHER_NPI]
    codes = ["G0438", "G0439", "G0402", "99213", "99214", "93000"]
    days = [date(2025, 1, 1) + timedelta(days=rng.randrange(0, 730)) for _ in range(40)]

    def random_claim(i):
        lines = [(rng.choice(codes), rng.choice(days).isoformat(),
                  ["76"] if rng.random() < 0.1 else []) for _ in range(rng.randint(1, 4))]
        return claim(f"R{i}", *lines, member=rng.choice(members), npi=rng.choice(npis),
                     frequency=rng.choice("1178"))
    recorded = [random_claim(i) for i in range(300)]
    memory = MemoryHistory(recorded)
    fired = set()
    for i in range(600):
        c = random_claim(i if i % 3 == 0 else 10_000 + i)  # a third re-check recorded ids
        compiled = pack.check(c, history=memory).to_dict()
        assert pack.check_reference(c, history=memory).to_dict() == compiled, c.claim_id
        fired.update(f["rule_id"] for f in compiled["findings"])
    assert fired == {"F-LIFE", "F-YEAR", "F-AWV", "F-DAYS", "DUP"}


# ---- the commands, once cli.py, packtest, explain and diff pass the history (skipped before) ----

def _wired() -> bool:
    from rulesengine.cli import main
    return any(p.name == "history_path" for p in main.commands["check"].params)


wired = pytest.mark.skipif(not _wired(), reason="check --history not wired into cli.py yet")


@pytest.fixture
def awv_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(hist.ENV_VAR, raising=False)
    _claims_file(tmp_path / "2025.json", [claim_data("AWV-2025", ("G0439", "2025-03-31"))])
    _claims_file(tmp_path / "2026.json", [claim_data("AWV-2026", ("G0439", "2026-02-28"))])
    return tmp_path


@wired
def test_check_without_a_history_is_a_usage_error_naming_the_rules(awv_files):
    from rulesengine.cli import main
    result = CliRunner().invoke(main, ["check", "2026.json", "--pack", str(PACK_DIR)])
    assert result.exit_code == 2
    assert "no claim history here" in result.output
    assert "FREQ-AWV-INITIAL, FREQ-AWV-SUBSEQUENT, DUP-SERVICE" in result.output


@wired
def test_check_with_the_recorded_history_denies_the_second_visit(awv_files):
    from rulesengine.cli import main
    runner = CliRunner()
    assert runner.invoke(main, ["history", "add", "2025.json"]).exit_code == 0
    result = runner.invoke(main, ["check", "2026.json", "--pack", str(PACK_DIR), "--format", "json"])
    assert result.exit_code == 1, result.output
    finding, = json.loads(result.output)["results"][0]["findings"]
    assert (finding["rule_id"], finding["carc"], finding["evidence"]["prior_dates"]) == (
        "FREQ-AWV-SUBSEQUENT", "119", ["2025-03-31"])
    assert runner.invoke(main, ["check", "2025.json", "--pack", str(PACK_DIR)]).exit_code == 0


@wired
def test_explain_and_diff_read_the_history(awv_files):
    from rulesengine.cli import main
    runner = CliRunner()
    runner.invoke(main, ["history", "add", "2025.json"])
    explained = runner.invoke(main, ["explain", "2026.json", "--pack", str(PACK_DIR),
                                     "--rule", "FREQ-AWV-SUBSEQUENT"])
    assert explained.exit_code == 1, explained.output
    assert "1 earlier G0402 or G0438 or G0439 from 2025-03-01 through 2026-02-28 (2025-03-31)" in " ".join(
        explained.output.split())
    diffed = runner.invoke(main, ["diff", str(ROOT / "payer_rules" / "medicare"), str(PACK_DIR), "2026.json"])
    assert diffed.exit_code == 1 and "clean -> denied" in diffed.output


@wired
def test_the_bundled_frequency_pack_tests_pass_with_their_histories(monkeypatch):
    from rulesengine.cli import main
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, ["test", str(PACK_DIR)])
    assert result.exit_code == 0, result.output
    assert "medicare-frequency 9 of 9 rules fired" in result.output


# ---- check --record: claims not denied are recorded as they are checked ----------------------

REVIEW_RULES = AGREEMENT_RULES + """
rule ECG-REVIEW "an ECG goes to review"
  category medical_necessity
  for each line where line.procedure in {93000}
  require any line.modifier in {76}
  else review line CO-50 "review"
"""


def _check(*args):
    from rulesengine.cli import main
    return CliRunner().invoke(main, ["check", *map(str, args)])


def _statuses(result) -> dict[str, str]:
    return {r["claim_id"]: r["status"] for r in json.loads(result.stdout)["results"]}


def _recorded(path: Path) -> list[tuple]:
    """What another connection sees committed: (claim id, procedure, service date)."""
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT claim_id, procedure, service_date FROM claim_lines "
                          "ORDER BY claim_id, line_number").fetchall()
    finally:
        db.close()


@pytest.fixture
def two_initial_visits(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(hist.ENV_VAR, raising=False)
    return _claims_file(tmp_path / "batch.json", [
        claim_data("IAWV-1", ("G0438", "2026-02-02")),
        claim_data("IAWV-2", ("G0438", "2026-03-03")),
        claim_data("OV-1", ("99213", "2026-03-03")),
        claim_data("OV-2", ("99213", "2026-03-03"))])


def test_check_record_checks_later_claims_against_earlier_ones(two_initial_visits):
    SQLiteHistory("h.sqlite").close()  # an empty history
    without = _check("batch.json", "--pack", PACK_DIR, "--history", "h.sqlite", "--format", "json")
    assert without.exit_code == 0, without.output
    assert set(_statuses(without).values()) == {"clean"}
    assert _recorded(Path("h.sqlite")) == []  # checking alone records nothing

    recording = _check("batch.json", "--pack", PACK_DIR, "--history", "h.sqlite", "--record",
                       "--format", "json")
    assert recording.exit_code == 1, recording.output
    assert _statuses(recording) == {"IAWV-1": "clean", "IAWV-2": "denied", "OV-1": "clean",
                                    "OV-2": "denied"}
    denied = {r["claim_id"]: r["findings"][0] for r in json.loads(recording.stdout)["results"]
              if r["findings"]}
    assert (denied["IAWV-2"]["rule_id"], denied["IAWV-2"]["evidence"]["prior_dates"]) == (
        "FREQ-AWV-INITIAL", ["2026-02-02"])
    assert denied["OV-2"]["evidence"]["earlier.claim_id"] == "OV-1"
    # the denied claims are not recorded: they are fixed and checked again first
    assert _recorded(Path("h.sqlite")) == [("IAWV-1", "G0438", "2026-02-02"),
                                           ("OV-1", "99213", "2026-03-03")]
    assert ("h.sqlite: recorded 2 claims (2 lines), 0 replacing earlier copies, 0 voids applied; "
            "2 denied claims not recorded") in recording.stderr


def test_check_record_creates_the_history_that_check_alone_requires(two_initial_visits):
    refused = _check("batch.json", "--pack", PACK_DIR, "--history", "new.sqlite")
    assert refused.exit_code == 2 and "no claim history here" in refused.output
    assert not Path("new.sqlite").exists()
    created = _check("batch.json", "--pack", PACK_DIR, "--history", "new.sqlite", "--record")
    assert created.exit_code == 1, created.output
    assert [r[0] for r in _recorded(Path("new.sqlite"))] == ["IAWV-1", "OV-1"]


def test_rerunning_a_recorded_batch_does_not_count_its_own_copies(two_initial_visits):
    first = _check("batch.json", "--pack", PACK_DIR, "--record", "--format", "json")
    again = _check("batch.json", "--pack", PACK_DIR, "--record", "--format", "json")
    assert _statuses(again) == _statuses(first) == {
        "IAWV-1": "clean", "IAWV-2": "denied", "OV-1": "clean", "OV-2": "denied"}
    assert "recorded 2 claims (2 lines), 2 replacing earlier copies" in again.stderr
    assert [r[0] for r in _recorded(Path(hist.DEFAULT_PATH))] == ["IAWV-1", "OV-1"]


def test_a_rule_failing_on_one_claim_costs_that_claim_only(two_initial_visits, monkeypatch):
    """An exception inside checking one claim (a bug) is that claim's internal error: the
    others are checked and recorded, and the run exits 123, not 1."""
    from rulesengine.engine import compiler
    real = compiler._LineRule.violation

    def failing(self, c, line, x):
        if c.claim_id == "OV-1":
            raise RuntimeError("a bug")
        return real(self, c, line, x)
    monkeypatch.setattr(compiler._LineRule, "violation", failing)
    result = _check("batch.json", "--pack", PACK_DIR, "--record", "--format", "jsonl")
    assert result.exit_code == 123
    errors = [json.loads(x)["error"] for x in result.stdout.splitlines() if '"error"' in x]
    assert [(e["claim_id"], e["kind"]) for e in errors] == [("OV-1", "internal")]
    rule_ids = {r.id for r in rulesengine.load_pack(PACK_DIR).rules}
    named = errors[0]["message"].split("internal error in rule ")[1].split(":")[0]
    assert named in rule_ids and "RuntimeError: a bug" in errors[0]["message"]
    assert "internal error: batch.json: claim 3 (OV-1)" in result.stderr
    assert {row[0] for row in _recorded(Path(hist.DEFAULT_PATH))} == {"IAWV-1", "OV-2"}


def test_a_crash_during_check_record_records_nothing(two_initial_visits, monkeypatch):
    from rulesengine.cli import check as cli
    from rulesengine.reports.json import JsonLinesWriter
    monkeypatch.setattr(cli, "_BATCH", 1)  # results of the first claims are already written
    real = JsonLinesWriter.result

    def failing(self, result, claim=None):
        if result.claim_id == "OV-1":  # after IAWV-1 was recorded
            raise RuntimeError("power cut")
        return real(self, result, claim)
    monkeypatch.setattr(JsonLinesWriter, "result", failing)
    crashed = _check("batch.json", "--pack", PACK_DIR, "--record", "--format", "jsonl")
    assert crashed.exit_code == 123 and "internal error: RuntimeError: power cut" in crashed.stderr
    assert '"claim_id":"IAWV-1"' in crashed.stdout.replace(" ", "")
    assert _recorded(Path(hist.DEFAULT_PATH)) == []
    monkeypatch.setattr(JsonLinesWriter, "result", real)  # the history is usable afterwards
    assert _check("batch.json", "--pack", PACK_DIR, "--record").exit_code == 1
    assert len(_recorded(Path(hist.DEFAULT_PATH))) == 2


def test_check_record_replaces_and_voids_as_history_add_does(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(hist.ENV_VAR, raising=False)
    _claims_file(tmp_path / "day1.json", [_data("C1", "G0439", "2025-03-31"),
                                          _data("C2", "99214", "2025-04-01")])
    _claims_file(tmp_path / "day2.json", [_data("C1", "G0439", "2025-04-02", "7"),
                                          _data("C2", "99214", "2025-04-01", "8")])
    assert _check("day1.json", "--pack", PACK_DIR, "--record").exit_code == 0
    result = _check("day2.json", "--pack", PACK_DIR, "--record")
    assert result.exit_code == 0, result.output
    assert "recorded 1 claim (1 line), 1 replacing earlier copies, 1 void applied" in result.stderr
    assert _recorded(Path(hist.DEFAULT_PATH)) == [("C1", "G0439", "2025-04-02")]


def test_check_record_records_claims_sent_to_review(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(hist.ENV_VAR, raising=False)
    pack_dir = _write_pack(tmp_path / "review", REVIEW_RULES)
    _claims_file(tmp_path / "ecg.json", [claim_data("ECG-1", ("93000", "2026-06-02"))])
    result = _check("ecg.json", "--pack", pack_dir, "--record", "--format", "json")
    assert _statuses(result) == {"ECG-1": "review"}
    assert _recorded(Path(hist.DEFAULT_PATH)) == [("ECG-1", "93000", "2026-06-02")]


def test_check_help_describes_record():
    help_text = " ".join(_check("--help").output.split())
    assert "--record" in help_text
    assert "Record each claim that is not denied" in help_text
    assert "an interrupted run records nothing" in help_text


# ---- the SQLite store: snapshots and recordings -------------------------------------------------

def test_a_recording_is_seen_by_its_own_reads_and_by_others_only_once_committed(tmp_path):
    path = tmp_path / "h.sqlite"
    with SQLiteHistory(path) as store:
        with store.recording() as recording:
            recording.add(claim("C1", ("G0438", "2025-05-02")))
            assert [h.claim_id for h in store.lines_for("1EG4TE5MK73", "G0438")] == ["C1"]
            with store.snapshot():  # inside a recording, a snapshot changes nothing
                assert len(store.lines_for("1EG4TE5MK73", "G0438")) == 1
            assert _recorded(path) == []
        assert recording.counts == {"claims": 1, "lines": 1, "replaced": 0, "voided": 0}
        assert _recorded(path) == [("C1", "G0438", "2025-05-02")]
        with (pytest.raises(RuntimeError, match="inside a snapshot"), store.snapshot(),
              store.recording()):
            pass


def test_a_snapshot_ends_so_others_can_record(tmp_path):
    path = tmp_path / "h.sqlite"
    with SQLiteHistory(path) as reader, SQLiteHistory(path) as writer:
        with reader.snapshot():
            assert reader.lines_for("1EG4TE5MK73", "G0438") == []
        writer.add(claim("C1", ("G0438", "2025-05-02")))  # would wait on an open snapshot
        with reader.snapshot():
            assert [h.claim_id for h in reader.lines_for("1EG4TE5MK73", "G0438")] == ["C1"]


def test_compiled_and_reference_agree_while_recording_into_sqlite(tmp_path):
    """Checked and recorded claim by claim, as check --record does: SQLite (uncommitted rows
    included) answers as a MemoryHistory fed the same claims, and both evaluators agree."""
    pack = rulesengine.load_pack(_write_pack(tmp_path / "agree", AGREEMENT_RULES))
    rng = random.Random(20261124)
    members, npis = ["1EG4TE5MK73", "5TP7WQ2RN48"], [NPI, OTHER_NPI]
    codes = ["G0438", "G0439", "G0402", "99213", "99214", "93000"]
    days = [date(2025, 1, 1) + timedelta(days=rng.randrange(0, 500)) for _ in range(30)]
    memory, fired, recorded = MemoryHistory(), set(), 0
    with SQLiteHistory(tmp_path / "h.sqlite") as store, store.recording() as recording:
        for i in range(400):
            lines = [(rng.choice(codes), rng.choice(days).isoformat(),
                      ["76"] if rng.random() < 0.1 else []) for _ in range(rng.randint(1, 3))]
            c = claim(f"R{rng.randrange(250)}", *lines, member=rng.choice(members),
                      npi=rng.choice(npis), frequency=rng.choice("1178"))
            compiled = pack.check(c, history=store).to_dict()
            assert pack.check_reference(c, history=store).to_dict() == compiled, c.claim_id
            assert pack.check(c, history=memory).to_dict() == compiled, c.claim_id
            fired.update(f["rule_id"] for f in compiled["findings"])
            if compiled["status"] != "denied":
                recording.add(c)
                memory.add(c)
                recorded += 1
    assert fired == {"F-LIFE", "F-YEAR", "F-AWV", "F-DAYS", "DUP"}
    assert 50 < recorded < 350
