"""Benchmark: the whole job a biller runs, as processes — ``rulesengine check FILE --pack P
--format jsonl -o OUT`` against a hand-written program doing the same (read JSON Lines,
validate, check the same policies, write JSON Lines: ``handwritten_job.py``).

    python benchmarks/whole_job.py [--claims 100000] [--pairs 60000] [--seed 7] [--repeat 3]

Generates the workload of ``run.py`` into a temporary folder, runs each program
``--repeat`` times interleaved (best wall time kept; peak memory is the process's maximum
resident set), checks that both find the same (claim, rule, line) findings, and prints the
figures and the ratio. Both start from nothing: the engine's time includes loading and
compiling the pack, the hand-written one's reading its tables.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import workload  # noqa: E402


def timed(command: list[str]) -> tuple[float, int, int]:
    """(wall seconds, peak resident KiB, exit status) of one run of ``command``."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, cwd=HERE.parent)
    _, status, usage = os.wait4(process.pid, 0)
    return time.perf_counter() - started, usage.ru_maxrss, os.waitstatus_to_exitcode(status)


def findings(path: Path) -> set[tuple]:
    found = set()
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if "error" in record:
                found.add(("error", record["error"].get("position")))
                continue
            for f in record["findings"]:
                found.add((record["claim_id"], f["rule_id"], f["line_number"]))
    return found


def main(argv=None) -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--claims", type=int, default=100_000)
    options.add_argument("--pairs", type=int, default=60_000)
    options.add_argument("--seed", type=int, default=7)
    options.add_argument("--repeat", type=int, default=3)
    options.add_argument("--jobs", type=int, default=None, help="pass --jobs to rulesengine check")
    args = options.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="rulesengine-job-"))
    try:
        spec = workload.build_spec(args.seed, args.pairs)
        pack = workload.write_pack(spec, folder / "pack")
        claims = folder / "claims.jsonl"
        count = workload.write_claims(workload.claim_dicts(spec, args.claims, args.seed), claims)
        with open(folder / "spec.pickle", "wb") as handle:
            pickle.dump(spec, handle)
        size = claims.stat().st_size
        print(f"workload: {spec.rule_count} rules, {count:,} claims, {size / 1e6:.0f} MB of JSON Lines")
        engine_out, hand_out = folder / "engine.jsonl", folder / "hand.jsonl"
        engine = [sys.executable, "-m", "rulesengine", "check", str(claims), "--pack", str(pack),
                  "--format", "jsonl", "-o", str(engine_out)]
        if args.jobs is not None:
            engine += ["--jobs", str(args.jobs)]
        hand = [sys.executable, str(HERE / "handwritten_job.py"), str(folder / "spec.pickle"),
                str(pack), str(claims), str(hand_out)]
        runs = {"engine": [], "hand": []}
        for _ in range(args.repeat):
            for name, command in (("engine", engine), ("hand", hand)):
                seconds, peak, status = timed(command)
                if status not in (0, 1):
                    raise SystemExit(f"{name} exited with {status}")
                runs[name].append((seconds, peak))
        a, b = findings(engine_out), findings(hand_out)
        if a != b:
            raise SystemExit(f"the findings differ: {len(a - b)} only from the engine, "
                             f"{len(b - a)} only by hand, e.g. {sorted(a ^ b)[:3]}")
        (te, me), (th, mh) = min(runs["engine"]), min(runs["hand"])
        print(f"  identical findings: {len(a):,}")
        print(f"  rulesengine check: {te:.2f} s ({count / te:,.0f} claims/s), peak {me / 1024:.0f} MB "
              f"(runs: {', '.join(f'{s:.2f}' for s, _ in runs['engine'])})")
        print(f"  hand-written job:  {th:.2f} s ({count / th:,.0f} claims/s), peak {mh / 1024:.0f} MB "
              f"(runs: {', '.join(f'{s:.2f}' for s, _ in runs['hand'])})")
        print(f"  ratio engine / hand-written: {te / th:.2f}x time, {me / mh:.2f}x memory")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
