"""Benchmark: checking claims against a claim history, SQLite against in memory.

    python benchmarks/history.py [--claims 100000] [--history-claims 200000] [--members 30000]

Checks the same claims with the Medicare pack and three history checks on top of it
(``FREQUENCY_RULES``: a duplicate check that reads the history for every line, a G0439
frequency limit that reads three codes) against the same
recorded claims held five ways:

* ``MemoryHistory``: a dict, the fastest a history can be;
* SQLite, one query per lookup, each its own read transaction: ``SQLiteHistory.lines_for``
  called claim by claim (how ``check`` read the history before batches);
* SQLite, one query per claim: the member's lines for the claim's procedures and the codes
  the pack counts, read with one ``IN`` query and served from a per-claim dict, alone and
  in snapshots (measured as an alternative, not used by the engine);
* SQLite as ``rulesengine check`` reads it: batches of claims, each inside
  ``SQLiteHistory.snapshot()`` (one read transaction for the batch).

The claims come from ``workload.claim_dicts`` (procedure and diagnosis mixes, dates from
2025-07 to 2026-06), made Medicare Part B claims of a pool of members, one in ten with an
annual wellness visit or IPPE (G0438, G0439, G0402). The history is drawn the same way
over the same year and the two before, and 1% of the checked claims resubmit a recorded
claim, so the duplicate and frequency rules fire. One warm-up pass each, then the best of
``--repeat`` passes, interleaved so all meet the same machine. All must give the same
findings; the run stops with an error when they do not.

It also times ``check --record`` (each claim not denied recorded as it is checked, one
transaction for the run) against a ``MemoryHistory`` fed the same way, which must agree,
recording alone (``history add``), and bare ``lines_for`` lookups.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
if importlib.util.find_spec("rulesengine") is None:  # a source checkout, not installed
    sys.path.insert(1, str(HERE.parent))

import rulesengine
from rulesengine.language import ast
# claims per history snapshot in rulesengine check
from rulesengine.cli.check import _BATCH as BATCH
from rulesengine.engine.history import HistoryLine, MemoryHistory, SQLiteHistory, snapshot
from rulesengine.claims.model import Claim
from rulesengine.engine.reference import counted_codes

import workload

PACKS = HERE.parent / "payer_rules"
#: the history checks measured here, on top of the Medicare pack: the lookups of one code at
#: a time that ``History.lines_for`` answers (benchmarks/relational.py measures the rules
#: that read a member's earlier lines as a whole)
FREQUENCY_RULES = """
rule FREQ-AWV-INITIAL "Initial annual wellness visit (G0438) billed more than once in a lifetime"
  category frequency
  for each line where line.procedure in {G0438}
  require at most 1 per lifetime
  else deny line CO-119 "G0438 is once in a lifetime; already billed on {prior_dates}"

rule FREQ-AWV-SUBSEQUENT "Subsequent annual wellness visit (G0439) within 12 months of the last"
  category frequency
  for each line where line.procedure in {G0439}
  require at most 1 per 12 months counting {G0402, G0438, G0439}
  else deny line CO-119 "one was billed on {prior_dates}"

rule DUP-SERVICE "Same service, date and billing provider as another claim"
  category duplicate_claim
  for each line where no line.modifier in {76, 77}
  require no duplicate
  else deny line CO-18 "already billed on claim {duplicate_claims}"
"""


def frequency_pack(folder: Path) -> Path:
    """The Medicare pack and, extending it, the frequency and duplicate checks."""
    shutil.copytree(PACKS / "medicare", folder / "medicare")
    (folder / "frequency").mkdir()
    (folder / "frequency" / "pack.yaml").write_text(
        'id: frequency-bench\nversion: "1"\npayer_ids: [medicare]\nextends: [medicare]\n', encoding="utf-8")
    (folder / "frequency" / "frequency.rules").write_text(FREQUENCY_RULES, encoding="utf-8")
    return folder / "frequency"
NPIS = ("1234567893", "1245319599")  # valid check digits (Luhn, 80840 prefix)
#: the annual wellness visit codes and the IPPE, as often as they are billed relative to each other
AWV_CODES, AWV_WEIGHTS = ("G0439", "G0438", "G0402"), (60, 25, 15)


def medicare_claims(spec, count: int, seed: int, members: list[str], prefix: str,
                    shift_days=(0,)) -> list[Claim]:
    """``count`` claims of ``workload.claim_dicts``, made Medicare Part B claims of ``members``:
    ids ``prefix`` + number, dates moved back by one of ``shift_days``, one in ten with an
    AWV or IPPE on its first line."""
    rng = random.Random(seed * 104729 + 3)
    made = []
    for data in workload.claim_dicts(spec, count, seed):
        data["claim_id"] = prefix + data["claim_id"][1:]
        data["payer"] = {"id": "medicare", "plan": "PartB"}
        data["patient"]["member_id"] = members[rng.randrange(len(members))]
        data["billing_provider"]["npi"] = NPIS[rng.randrange(len(NPIS))]
        shift = timedelta(days=rng.choice(shift_days))
        for line in data["lines"]:
            line["service_date"] = (date.fromisoformat(line["service_date"]) - shift).isoformat()
        if data["received_date"]:
            data["received_date"] = (date.fromisoformat(data["received_date"]) - shift).isoformat()
        if rng.random() < 0.10:
            data["lines"][0]["procedure"] = rng.choices(AWV_CODES, AWV_WEIGHTS)[0]
            data["lines"][0]["modifiers"] = []
        made.append(Claim.from_dict(data))
    return made


def resubmissions(recorded: list[Claim], checked: list[Claim], share: float, seed: int) -> None:
    """Replace ``share`` of ``checked`` by copies of recorded claims under new ids: the
    duplicates a biller sends by mistake."""
    rng = random.Random(seed)
    recent = [c for c in recorded if c.first_service_date >= date(2025, 7, 1)]
    for i in range(len(checked)):
        if rng.random() < share:
            original = rng.choice(recent)
            checked[i] = Claim(**{**{f: getattr(original, f) for f in Claim.__dataclass_fields__},
                                  "claim_id": f"R{i:07d}", "frequency_code": "1"})


class LookupOnly:
    """A history offering only the ``History`` protocol's ``lines_for``: one query a lookup."""

    def __init__(self, store: SQLiteHistory):
        self.lines_for = store.lines_for


class PerClaimRead:
    """The alternative measured: per claim, one query for the member's lines of every
    procedure the pack's history rules may ask about, served from a dict."""

    def __init__(self, path: Path, counted: frozenset[str]):
        self._db = sqlite3.connect(path)
        self._counted = counted

    @contextmanager
    def snapshot(self):
        """One read transaction for a batch, as ``SQLiteHistory.snapshot``."""
        self._db.execute("BEGIN")
        try:
            yield
        finally:
            self._db.commit()

    def for_claim(self, claim: Claim):
        wanted = tuple(self._counted.union(claim.procedures))
        found: dict[str, list[HistoryLine]] = {p: [] for p in wanted}
        rows = self._db.execute(
            "SELECT procedure, claim_id, service_date, billing_npi FROM claim_lines "
            f"WHERE member_id = ? AND procedure IN ({','.join('?' * len(wanted))})",
            (claim.member_id, *wanted)).fetchall()
        for procedure, claim_id, day, npi in rows:
            found[procedure].append(HistoryLine(claim_id, date.fromisoformat(day), npi))
        return _Lines(found)


class _Lines:
    def __init__(self, found):
        self.found = found

    def lines_for(self, member_id, procedure):
        return self.found[procedure]


def _rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f}"


def _findings(results) -> set:
    return {(r.claim_id, f.rule_id, f.line_number, f.message) for r in results for f in r.findings}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--claims", type=int, default=100_000, help="claims to check (default 100000)")
    ap.add_argument("--history-claims", type=int, default=200_000,
                    help="claims recorded in the history first (default 200000)")
    ap.add_argument("--members", type=int, default=30_000, help="distinct members (default 30000)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3, help="timed passes of each (best is kept)")
    ap.add_argument("--keep", action="store_true", help="keep the generated folder")
    args = ap.parse_args(argv)

    rows: list[tuple[str, str]] = []

    def note(label: str, value: str):
        rows.append((label, value))
        print(f"  {label}: {value}", flush=True)

    folder = Path(tempfile.mkdtemp(prefix="rulesengine-history-bench-"))
    try:
        t = time.perf_counter()
        spec = workload.build_spec(args.seed, 1000)  # the code mixes; its pack is not used
        rng = random.Random(args.seed)
        members = sorted({f"{rng.randrange(10**10):010d}MB" for _ in range(args.members)})
        recorded = medicare_claims(spec, args.history_claims, args.seed + 1, members, "H",
                                   shift_days=(0, 365, 730))
        claims = medicare_claims(spec, args.claims, args.seed + 2, members, "C")
        resubmissions(recorded, claims, 0.01, args.seed + 3)
        recorded_lines = sum(len(c.lines) for c in recorded)
        lines = sum(len(c.lines) for c in claims)
        print(f"generated in {time.perf_counter() - t:.1f}s (seed {args.seed}): {len(recorded):,} "
              f"recorded claims ({recorded_lines:,} lines) of {len(members):,} members; "
              f"{len(claims):,} claims to check ({lines:,} lines)", flush=True)

        # ---- the histories -------------------------------------------------------------------
        path = folder / "history.sqlite"
        t = time.perf_counter()
        with SQLiteHistory(path) as store:
            counts = store.add_claims(recorded)
        took = time.perf_counter() - t
        note("recording alone (history add, one transaction)",
             f"{_rate(counts['claims'], took)} claims/s ({counts['lines']:,} lines in {took:.1f} s)")
        pristine = folder / "pristine.sqlite"
        shutil.copyfile(path, pristine)
        pack = rulesengine.load_pack(frequency_pack(folder))
        counted = frozenset(code for rule in pack.rules  # (pack.valuesets serves the lookup)
                            if isinstance(rule.check, ast.RequireFrequency)
                            and rule.check.counting is not None
                            for code in counted_codes(pack, rule.check, None))
        gc.collect()
        gc.freeze()  # the claims live for the whole run: keep the collector from re-walking them

        store = SQLiteHistory(path, create=False)
        memory = MemoryHistory(recorded)
        lookup_only = LookupOnly(store)
        per_claim = PerClaimRead(path, counted)
        check = pack.check

        def in_memory():
            return [check(c, history=memory) for c in claims]

        def per_lookup():
            return [check(c, history=lookup_only) for c in claims]

        def one_query_per_claim():
            return [check(c, history=per_claim.for_claim(c)) for c in claims]

        def one_query_per_claim_in_snapshots():
            results = []
            for start in range(0, len(claims), BATCH):
                with per_claim.snapshot():
                    results.extend(check(c, history=per_claim.for_claim(c))
                                   for c in claims[start:start + BATCH])
            return results

        def in_snapshots():
            results = []
            for start in range(0, len(claims), BATCH):
                with store.snapshot():
                    results.extend(check(c, history=store) for c in claims[start:start + BATCH])
            return results

        ways = {"MemoryHistory (in memory)": in_memory,
                "SQLite, a read transaction per lookup (before)": per_lookup,
                "SQLite, one IN query per claim (alternative)": one_query_per_claim,
                f"SQLite, one IN query per claim, a snapshot per {BATCH} (alternative)":
                    one_query_per_claim_in_snapshots,
                f"SQLite, a snapshot per {BATCH} claims (check, after)": in_snapshots}
        if not _timed(ways, claims, args.repeat, note):
            return 1
        base = rulesengine.load_pack(folder / "medicare")  # the same pack less its history rules
        taken = []
        for _ in range(args.repeat):
            gc.collect()
            t = time.perf_counter()
            for c in claims:
                base.check(c)
            taken.append(time.perf_counter() - t)
        note("no history: payer_rules/medicare alone", f"{_rate(len(claims), min(taken))} claims/s")

        # ---- check --record: SQLite against memory, fed claim by claim -----------------------------
        def record_run(history, add):
            results = []
            for start in range(0, len(claims), BATCH):
                with snapshot(history):
                    for c in claims[start:start + BATCH]:
                        result = check(c, history=history)
                        if result.status != "denied":
                            add(c)
                        results.append(result)
            return results

        sqlite_times, memory_times = [], []
        for _ in range(args.repeat):
            shutil.copyfile(pristine, path)
            with SQLiteHistory(path, create=False) as fresh:
                gc.collect()
                t = time.perf_counter()
                with fresh.recording() as recording:
                    sqlite_results = record_run(fresh, recording.add)
                sqlite_times.append(time.perf_counter() - t)
            fed = MemoryHistory(recorded)
            gc.collect()
            t = time.perf_counter()
            memory_results = record_run(fed, fed.add)
            memory_times.append(time.perf_counter() - t)
        for name, taken in (("check --record, SQLite (one transaction, committed)", sqlite_times),
                            ("check --record, MemoryHistory fed alike", memory_times)):
            best = min(taken)
            note(name, f"{_rate(len(claims), best)} claims/s ({best / len(claims) * 1e6:.1f} us/claim)")
        if _findings(sqlite_results) != _findings(memory_results):
            print("DISAGREE: check --record on SQLite differs from memory", file=sys.stderr)
            return 1
        note("  agreement, and claims recorded",
             f"identical findings ({len(_findings(sqlite_results)):,}); "
             f"{recording.counts['claims']:,} recorded, {recording.counts['replaced']:,} replacing, "
             f"{recording.counts['voided']:,} voids applied")

        # ---- bare lookups ------------------------------------------------------------------------
        n = 20_000
        t = time.perf_counter()
        for i in range(n):
            store.lines_for(members[i % len(members)], "99213")
        note("SQLiteHistory.lines_for alone, no snapshot", f"{_rate(n, time.perf_counter() - t)} lookups/s")
        with store.snapshot():
            t = time.perf_counter()
            for i in range(n):
                store.lines_for(members[i % len(members)], "99213")
            note("SQLiteHistory.lines_for alone, in a snapshot", f"{_rate(n, time.perf_counter() - t)} lookups/s")
        store.close()

        width = max(len(label) for label, _ in rows)
        print("\n" + "-" * (width + 60))
        for label, value in rows:
            print(f"{label:<{width}}  {value}")
        print("-" * (width + 60))
        return 0
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def _timed(ways: dict, claims: list, repeat: int, note) -> bool:
    """Time each way (a warm-up, then the best of ``repeat``, interleaved); False when they
    do not all give the same findings."""
    times: dict[str, list[float]] = {name: [] for name in ways}
    results = {name: run() for name, run in ways.items()}  # warm-up: page cache, memos
    for _ in range(repeat):
        for name, run in ways.items():
            gc.collect()
            t = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - t)
    first = next(iter(ways))
    for name in ways:
        best = min(times[name])
        note(name, f"{_rate(len(claims), best)} claims/s ({best / len(claims) * 1e6:.1f} us/claim; "
                   f"passes {', '.join(f'{x:.2f}' for x in times[name])} s)")
    for name in list(ways)[1:]:
        note(f"  {name} / memory", f"{min(times[name]) / min(times[first]):.2f}x the time")
    expected = _findings(results[first])
    for name, found in results.items():
        if _findings(found) != expected:
            print(f"DISAGREE: {name} differs from {first}: "
                  f"{sorted(_findings(found) ^ expected, key=str)[:5]}", file=sys.stderr)
            return False
    statuses = Counter(r.status for r in results[first])
    by_rule = Counter(f.rule_id for r in results[first] for f in r.findings)
    note("agreement", f"identical findings ({len(expected):,}); statuses "
         + ", ".join(f"{k} {v:,}" for k, v in statuses.most_common()))
    print("  by rule: " + ", ".join(f"{k} {v:,}" for k, v in by_rule.most_common()), flush=True)
    return True


if __name__ == "__main__":
    sys.exit(main())
