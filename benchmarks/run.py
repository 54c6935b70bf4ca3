"""Benchmark: the compiled evaluator against hand-written Python, on one generated workload.

    python benchmarks/run.py [--claims 100000] [--pairs 60000] [--seed 7]

Generates, into a temporary folder, a payer pack (hundreds of rules, an NCCI table of
``--pairs`` procedure-to-procedure rows, MUE tables) and ``--claims`` claims as JSON
Lines; reads the claims into ``Claim`` objects; then checks the same claims with the
compiled pack (``pack.check``) and with ``handwritten.HandChecker``, the same policies
written by hand. One warm-up pass each, then the best of three passes, interleaved so
both meet the same machine. The two must agree on every (claim, rule, line) finding;
the run stops with an error when they do not. The reference interpreter is timed on a
small sample (it scans tables row by row, on purpose) and checked against the compiled
evaluator there too.

Claim reading (JSON, schema validation, building the model) is timed separately and is
not part of the ratio. ``--profile`` adds a cProfile of the compiled evaluator.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import importlib.util
import io
import json
import multiprocessing
import os
import pstats
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
if importlib.util.find_spec("rulesengine") is None:  # a source checkout, not installed
    sys.path.insert(1, str(HERE.parent))

import rulesengine
from rulesengine.claims import claim_from_data, read_claims
from rulesengine.claims.model import Claim

import handwritten
import workload


def _build_chunk(lines: list[str]) -> list:
    """A worker's share of the claim file, read as the engine reads it."""
    return [claim_from_data(json.loads(line)) for line in lines]


def _best(times: list[float]) -> float:
    return min(times)


def _rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--claims", type=int, default=100_000, help="claims to check (default 100000)")
    ap.add_argument("--pairs", type=int, default=60_000, help="NCCI practitioner PTP rows (default 60000)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--shape", choices=sorted(workload.SHAPES), default="mixed",
                    help="the claims' shape: mixed (1 to 8 lines) or one-line (single services, "
                         "a high share of findings)")
    ap.add_argument("--reference-claims", type=int, default=500,
                    help="claims for the reference interpreter (it scans the NCCI table per line pair)")
    ap.add_argument("--read-sample", type=int, default=5_000,
                    help="claims read on one core to time claim reading")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                    help="processes that read the rest of the claims")
    ap.add_argument("--repeat", type=int, default=3, help="timed passes of each checker (best is kept)")
    ap.add_argument("--profile", action="store_true", help="print a cProfile of the compiled evaluator")
    ap.add_argument("--keep", action="store_true", help="keep the generated folder")
    args = ap.parse_args(argv)

    rows: list[tuple[str, str]] = []

    def note(label: str, value: str):
        rows.append((label, value))
        print(f"  {label}: {value}", flush=True)

    folder = Path(tempfile.mkdtemp(prefix="rulesengine-bench-"))
    try:
        print(f"workload in {folder} (seed {args.seed})", flush=True)
        t = time.perf_counter()
        spec = workload.build_spec(args.seed, args.pairs)
        pack_dir = workload.write_pack(spec, folder / "pack")
        claims_file = folder / "claims.jsonl"
        count = workload.write_claims(workload.claim_dicts(spec, args.claims, args.seed, args.shape),
                                       claims_file)
        kinds = Counter(type(p).__name__ for p in spec.policies)
        print(f"  generated in {time.perf_counter() - t:.1f}s: {spec.rule_count} rules "
              f"({', '.join(f'{k} {v}' for k, v in kinds.most_common())}), "
              f"{len(spec.valuesets)} value sets, "
              + ", ".join(f"{name} {len(r):,} rows" for name, (_, r) in spec.tables.items())
              + f", {count:,} claims", flush=True)

        # ---- the pack ------------------------------------------------------------------------
        t = time.perf_counter()
        pack = rulesengine.load_pack(pack_dir)
        note("pack load + compile (parse, check, tables, compile)", f"{time.perf_counter() - t:.2f} s")
        t = time.perf_counter()
        hand = handwritten.HandChecker(spec, pack_dir)
        note("hand-written checker setup (CSV to dicts)", f"{time.perf_counter() - t:.2f} s")

        # ---- claims: reading is timed on one core, on a sample ---------------------------------
        with open(claims_file, encoding="utf-8") as f:
            texts = f.readlines()
        sample = min(args.read_sample, len(texts))
        sample_file = folder / "sample.jsonl"
        sample_file.write_text("".join(texts[:sample]), encoding="utf-8")
        t = time.perf_counter()
        head = [c for c in read_claims(sample_file)]
        read_time = time.perf_counter() - t
        dicts = [json.loads(line) for line in texts[:sample]]
        t = time.perf_counter()
        for d in dicts:
            Claim.from_dict(d)
        build_time = time.perf_counter() - t
        del dicts
        note("claim reading, read_claims (JSON + schema + model), 1 core",
             f"{_rate(sample, read_time)} claims/s ({read_time / sample * 1e6:,.0f} us/claim)")
        note("  of which Claim.from_dict alone",
             f"{_rate(sample, build_time)} claims/s ({build_time / sample * 1e6:,.0f} us/claim)")
        t = time.perf_counter()
        rest = texts[sample:]
        claims = list(head)
        if rest:
            size = max(1, len(rest) // (args.workers * 4) + 1)
            chunks = [rest[i:i + size] for i in range(0, len(rest), size)]
            if args.workers > 1:
                with multiprocessing.get_context("fork").Pool(args.workers) as pool:
                    for part in pool.map(_build_chunk, chunks):
                        claims.extend(part)
            else:
                for chunk in chunks:
                    claims.extend(_build_chunk(chunk))
        del texts, rest
        bad = [c for c in claims if not isinstance(c, Claim)]
        if bad:
            raise SystemExit(f"{len(bad)} generated claims did not read: {bad[0]}")
        print(f"  read the other {len(claims) - sample:,} claims with {args.workers} processes "
              f"in {time.perf_counter() - t:.1f}s", flush=True)
        lines = sum(len(c.lines) for c in claims)
        print(f"  {len(claims):,} claims, {lines:,} lines ({lines / len(claims):.2f} per claim)", flush=True)
        gc.collect()
        gc.freeze()  # the claims live for the whole run: keep the collector from re-walking them

        # ---- compiled vs hand-written ------------------------------------------------------------
        def run_compiled():
            check = pack.check
            return [check(c) for c in claims]

        def run_hand():
            check = hand.check
            return [check(c) for c in claims]

        t = time.perf_counter()
        run_compiled()
        warm_compiled = time.perf_counter() - t
        t = time.perf_counter()
        run_hand()
        warm_hand = time.perf_counter() - t
        note("first pass, memos cold (compiled / hand-written)",
             f"{_rate(len(claims), warm_compiled)} / {_rate(len(claims), warm_hand)} claims/s")
        # wall time is what a user waits; CPU time (process_time) is steadier on a shared machine
        compiled_times, hand_times, compiled_cpu, hand_cpu = [], [], [], []
        compiled_results = hand_results = None
        for _ in range(args.repeat):
            gc.collect()
            t, cpu = time.perf_counter(), time.process_time()
            compiled_results = run_compiled()
            compiled_times.append(time.perf_counter() - t)
            compiled_cpu.append(time.process_time() - cpu)
            gc.collect()
            t, cpu = time.perf_counter(), time.process_time()
            hand_results = run_hand()
            hand_times.append(time.perf_counter() - t)
            hand_cpu.append(time.process_time() - cpu)
        tc, th = _best(compiled_times), _best(hand_times)
        print(f"  passes (wall): compiled {', '.join(f'{x:.2f}' for x in compiled_times)} s; "
              f"hand-written {', '.join(f'{x:.2f}' for x in hand_times)} s", flush=True)
        n = len(claims)
        note("compiled evaluator (pack.check)", f"{_rate(n, tc)} claims/s ({tc / n * 1e6:.1f} us/claim)")
        note("hand-written checker", f"{_rate(n, th)} claims/s ({th / n * 1e6:.1f} us/claim)")
        note("ratio compiled / hand-written", f"{tc / th:.2f}x wall, "
             f"{_best(compiled_cpu) / _best(hand_cpu):.2f}x CPU (best of {args.repeat})")

        # ---- do they agree? -------------------------------------------------------------------------
        compiled_set = {(r.claim_id, f.rule_id, f.line_number) for r in compiled_results for f in r.findings}
        hand_set = {(c.claim_id, rid, ln) for c, found in zip(claims, hand_results) for rid, ln, *_ in found}
        compiled_count = sum(len(r.findings) for r in compiled_results)
        hand_count = sum(len(f) for f in hand_results)
        flagged = sum(1 for r in compiled_results if r.findings)
        note("findings (compiled / hand-written)",
             f"{compiled_count:,} / {hand_count:,} on {flagged:,} claims ({flagged / n:.1%})")
        by_category = Counter(f.category for r in compiled_results for f in r.findings)
        print("  by category: " + ", ".join(f"{k} {v:,}" for k, v in by_category.most_common()), flush=True)
        if compiled_set != hand_set or compiled_count != hand_count:
            only_c = sorted(compiled_set - hand_set, key=str)[:10]
            only_h = sorted(hand_set - compiled_set, key=str)[:10]
            print(f"DISAGREE: only compiled {len(compiled_set - hand_set)}: {only_c}\n"
                  f"          only hand-written {len(hand_set - compiled_set)}: {only_h}", file=sys.stderr)
            return 1
        note("agreement (claim, rule, line)", f"identical, {len(compiled_set):,} findings")
        del compiled_results, hand_results

        # ---- the reference interpreter on a sample ---------------------------------------------------
        k = min(args.reference_claims, n)
        if k:
            some = claims[:k]
            t = time.perf_counter()
            ref = [pack.check_reference(c) for c in some]
            tr = time.perf_counter() - t
            ref_set = {(r.claim_id, f.rule_id, f.line_number) for r in ref for f in r.findings}
            mine = {(r.claim_id, f.rule_id, f.line_number) for r in map(pack.check, some) for f in r.findings}
            same = "agrees with compiled" if ref_set == mine else "DISAGREES with compiled"
            note(f"reference interpreter ({k:,} claims)", f"{_rate(k, tr)} claims/s; {same}")
            if ref_set != mine:
                print(f"  only reference: {sorted(ref_set - mine, key=str)[:10]}\n"
                      f"  only compiled: {sorted(mine - ref_set, key=str)[:10]}", file=sys.stderr)
                return 1

        if args.profile:
            profiler = cProfile.Profile()
            subset = claims[: min(n, 20_000)]
            check = pack.check
            profiler.enable()
            for c in subset:
                check(c)
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
            print(out.getvalue())

        width = max(len(label) for label, _ in rows)
        print("\n" + "-" * (width + 40))
        for label, value in rows:
            print(f"{label:<{width}}  {value}")
        print("-" * (width + 40))
        return 0
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
