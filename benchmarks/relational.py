"""Benchmark: rules that relate lines, claims and table rows, compiled against hand-written.

    python benchmarks/relational.py [--claims 100000] [--history-claims 320000] [--members 40000]

Generates (relational_workload) a pack of the relational policies - add-on codes and their
primaries, modifier 25 on the day of a minor procedure, one visit a day, the 90-day global
period, bilateral, PC/TC and assistant modifiers, duplicates that compare modifiers, the
first-listed diagnosis, timed therapy units summed per date, NCCI and MUE across claims, a
screening frequency in calendar months - with tables of CMS's sizes, ``--claims`` claims to
check and a history of ``--history-claims`` earlier claims of the same members (over a
million lines at the defaults). Then checks the claims:

* compiled (``pack.check``) against a ``MemoryHistory``;
* compiled against an ``SQLiteHistory``, as ``rulesengine check --history`` reads it
  (a snapshot per batch of claims);
* by ``handwritten_relational.HandRelational``, the same policies written by hand over its
  own in-memory index of the history.

All three must give the same (claim, rule, line) findings, and the reference interpreter
agrees with the compiled evaluator on a sample; the run stops with an error otherwise. One
warm-up pass, then the best of ``--repeat`` passes, interleaved. Last, the cost per line of
one claim of 10,000 lines (over 250 dates) against claims of 10 lines.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import sys
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
if importlib.util.find_spec("rulesengine") is None:  # a source checkout, not installed
    sys.path.insert(1, str(HERE.parent))

import rulesengine
from rulesengine.claims.model import Claim
from rulesengine.cli.check import _BATCH as BATCH
from rulesengine.cli.check import _check_batch as check_batch
from rulesengine.engine.history import MemoryHistory, SQLiteHistory, snapshot
from rulesengine.packs.load import PackSet

import handwritten_relational
import relational_workload as w


def _claims(maker: w.ClaimMaker, count: int, prefix: str, first: date, days: int, **shape) -> list[Claim]:
    return [Claim.from_dict(maker.claim(f"{prefix}{i:07d}", first, days, **shape)) for i in range(count)]


def _findings_compiled(pack, claims, history, check=None) -> list[tuple]:
    check = check or pack.check
    out = []
    for i in range(0, len(claims), BATCH):
        with snapshot(history):  # a snapshot per batch of claims, as rulesengine check takes them
            for claim in claims[i:i + BATCH]:
                out.extend((claim.claim_id, f.rule_id, f.line_number)
                           for f in check(claim, history=history).findings)
    return out


def _time_compiled(pack, claims, history) -> float:
    """As rulesengine check runs: batches of claims, each in a snapshot of the history
    whose members' lines are read at once."""
    packs = PackSet([pack])
    start = time.perf_counter()
    for i in range(0, len(claims), BATCH):
        check_batch(claims[i:i + BATCH], "bench", packs, history, None)
    return time.perf_counter() - start


def _time_hand(hand, claims) -> float:
    start = time.perf_counter()
    findings = hand.findings
    for claim in claims:
        findings(claim)
    return time.perf_counter() - start


def _hand_findings(hand, claims) -> list[tuple]:
    return [(c.claim_id, rule, line) for c in claims for rule, line in hand.findings(c)]


def _agree(name_a, a, name_b, b) -> None:
    if sorted(a) != sorted(b):
        only_a, only_b = Counter(a) - Counter(b), Counter(b) - Counter(a)
        sys.exit(f"{name_a} and {name_b} disagree: {len(only_a)} findings only in {name_a} "
                 f"(first {sorted(only_a)[:3]}), {len(only_b)} only in {name_b} (first {sorted(only_b)[:3]})")


def _per_line(pack, hand, claims, history, repeat: int) -> tuple[float, float]:
    lines = sum(len(c.lines) for c in claims)
    compiled = min(_time_compiled(pack, claims, history) for _ in range(repeat))
    handed = min(_time_hand(hand, claims) for _ in range(repeat))
    return compiled / lines * 1e6, handed / lines * 1e6


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=100_000)
    parser.add_argument("--history-claims", type=int, default=320_000)
    parser.add_argument("--members", type=int, default=40_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    tables = w.build_tables(args.seed)
    maker = w.ClaimMaker(tables, args.seed, args.members)
    earlier_data = [maker.claim(f"H{i:07d}", date(2023, 7, 1), 910) for i in range(args.history_claims)]
    earlier = [Claim.from_dict(d) for d in earlier_data]
    checked = _claims(maker, args.claims, "C", w.FIRST_DAY, 181)
    for i in range(0, len(checked), 100):  # one in a hundred resends a recorded claim
        checked[i] = Claim.from_dict(maker.resubmitted(f"R{i:07d}", earlier_data[i % len(earlier_data)]))
    history_lines = sum(len(c.lines) for c in earlier)
    with tempfile.TemporaryDirectory() as tmp:
        pack = rulesengine.load_pack(w.write_pack(tables, Path(tmp) / "pack"))
        memory = MemoryHistory(earlier)
        db = Path(tmp) / "history.sqlite"
        with SQLiteHistory(db) as store:
            store.add_claims(earlier)
        sqlite = SQLiteHistory(db, create=False)
        hand = handwritten_relational.HandRelational(tables, earlier)
        lines = sum(len(c.lines) for c in checked)
        print(f"workload: {len(pack.rules)} rules; tables of {len(tables.aoc):,} add-on pairs, "
              f"{len(tables.mpfs):,} fee schedule codes, {len(tables.ncci):,} NCCI pairs, "
              f"{len(tables.mue):,} MUEs; {len(checked):,} claims ({lines:,} lines) checked against "
              f"{len(earlier):,} earlier claims ({history_lines:,} lines) of {args.members:,} members; "
              f"built in {time.perf_counter() - t0:.0f} s")

        compiled = _findings_compiled(pack, checked, memory)
        _agree("compiled", compiled, "hand-written", _hand_findings(hand, checked))
        _agree("compiled (memory)", compiled, "compiled (SQLite)", _findings_compiled(pack, checked, sqlite))
        sample = checked[:2000]
        _agree("compiled", _findings_compiled(pack, sample, memory), "reference",
               _findings_compiled(pack, sample, memory, pack.check_reference))
        fired = Counter(rule for _, rule, _ in compiled)
        print("findings: " + ", ".join(f"{rule} {n:,}" for rule, n in fired.most_common())
              + f"; every rule fires: {'yes' if len(fired) == len(pack.rules) else 'NO'}")

        gc.collect()
        gc.disable()
        try:
            _time_compiled(pack, checked[:5000], memory)  # warm-up: memos and caches
            _time_hand(hand, checked[:5000])
            runs = {"compiled, memory": [], "compiled, SQLite": [], "hand-written": []}
            for _ in range(args.repeat):
                runs["compiled, memory"].append(_time_compiled(pack, checked, memory))
                runs["compiled, SQLite"].append(_time_compiled(pack, checked, sqlite))
                runs["hand-written"].append(_time_hand(hand, checked))
        finally:
            gc.enable()
        best = {name: min(times) for name, times in runs.items()}
        print(f"\n{'checker':<20}{'claims/s':>12}{'best s':>9}   vs hand-written")
        for name, seconds in best.items():
            print(f"{name:<20}{len(checked) / seconds:>12,.0f}{seconds:>9.2f}   "
                  f"{seconds / best['hand-written']:.2f}x")

        small = _claims(maker, 1000, "S", w.FIRST_DAY, 181, lines=10)
        big = _claims(maker, 1, "B", w.FIRST_DAY, 181, lines=10_000, dates=250)
        small_compiled, small_hand = _per_line(pack, hand, small, memory, args.repeat)
        big_compiled, big_hand = _per_line(pack, hand, big, memory, args.repeat)
        _agree("compiled", _findings_compiled(pack, big, memory), "hand-written", _hand_findings(hand, big))
        print(f"\n{'per line (µs)':<20}{'10-line claims':>16}{'10,000-line claim':>19}{'ratio':>8}")
        print(f"{'compiled':<20}{small_compiled:>16.1f}{big_compiled:>19.1f}{big_compiled / small_compiled:>7.2f}x")
        print(f"{'hand-written':<20}{small_hand:>16.1f}{big_hand:>19.1f}{big_hand / small_hand:>7.2f}x")
        sqlite.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
