"""Benchmark: a pack with a full quarter's NCCI file — 1,000,000 procedure-to-procedure rows —
loaded from its files, written to the cache, and loaded from the cache; against a plain
dict of the same rows read with the csv module.

    python benchmarks/big_table.py [--rows 1000000]

Prints the seconds of each (without tracemalloc, which slows allocation several times),
the memory each holds once loaded and the most it held while loading (tracemalloc, after
a collection), each against the plain dict measured in the same run, and checks a sample of claims gives the same findings from a fresh and a
cached load. The rows are CMS-shaped (CPT-like five-digit codes in clusters, YYYYMMDD
dates, modifier indicators 0, 1 and 9).
"""

from __future__ import annotations

import argparse
import csv
import gc
import importlib.util
import random
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent
if importlib.util.find_spec("rulesengine") is None:  # a source checkout, not installed
    sys.path.insert(0, str(HERE.parent))

import rulesengine  # noqa: E402
from rulesengine.packs.cache import load_cached  # noqa: E402

RULES = '''table ncci_ptp from "tables/ncci_ptp.csv"
  columns column1 hcpcs, column2 hcpcs, prior_1996 text, effective_date date,
          deletion_date date, modifier_indicator integer, rationale text
  rows effective from effective_date through deletion_date

rule NCCI-PTP "Column-two code billed with its column-one code on the same day"
  category bundling
  for each line
  require not bundled per ncci_ptp bypass modifiers {59, XE, XP, XS, XU}
  else deny line CO-236 N20 "{line.procedure} is a column-two code of {column1}"
'''


def write_pack(folder: Path, rows: int, rng: random.Random) -> list[tuple[str, str]]:
    (folder / "tables").mkdir(parents=True)
    (folder / "pack.yaml").write_text('id: big-ncci\nversion: "1"\npayer: Benchmark\n')
    (folder / "ncci.rules").write_text(RULES)
    pairs = []
    with (folder / "tables" / "ncci_ptp.csv").open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["column1", "column2", "prior_1996", "effective_date", "deletion_date",
                         "modifier_indicator", "rationale"])
        for i in range(rows):
            one = 10000 + (i // 40) % 89999
            two = 10000 + rng.randrange(89999)
            deleted = "*" if rng.random() < 0.8 else f"2025{rng.randint(1, 12):02d}28"
            writer.writerow([f"{one:05d}", f"{two:05d}", "", "20200101", deleted,
                             rng.choice("019"), "Standards of medical/surgical practice"])
            if i % 1000 == 0:
                pairs.append((f"{one:05d}", f"{two:05d}"))
    return pairs


def held(make) -> tuple[object, int, int]:
    """(what ``make()`` returns, the bytes it holds once made, the most it held while made)."""
    gc.collect()
    tracemalloc.start()
    made = make()
    gc.collect()
    size, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return made, size, peak


def plain_dict(path: Path) -> dict:
    rows: dict = {}
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        for row in reader:
            rows.setdefault(row[1], []).append(row)
    return rows


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--rows", type=int, default=1_000_000)
    rows = options.parse_args().rows
    rng = random.Random(11)
    with tempfile.TemporaryDirectory() as tmp:
        pack_dir, cache = Path(tmp) / "pack", Path(tmp) / "cache"
        pairs = write_pack(pack_dir, rows, rng)
        rulesengine.load_pack(Path(__file__).resolve().parents[1] / "payer_rules" / "medicare")
        # timed without tracemalloc (it slows allocation several times), then measured with it
        started = time.perf_counter()
        fresh = rulesengine.load_pack(pack_dir)
        fresh_s = time.perf_counter() - started
        del fresh
        started = time.perf_counter()
        load_cached(pack_dir, cache)
        write_s = time.perf_counter() - started
        started = time.perf_counter()
        cached = load_cached(pack_dir, cache)
        cached_s = time.perf_counter() - started
        del cached
        started = time.perf_counter()
        plain_dict(pack_dir / "tables" / "ncci_ptp.csv")
        dict_s = time.perf_counter() - started
        fresh, fresh_bytes, fresh_peak = held(lambda: rulesengine.load_pack(pack_dir))
        cached, cached_bytes, cached_peak = held(lambda: load_cached(pack_dir, cache))
        _, dict_bytes, dict_peak = held(lambda: plain_dict(pack_dir / "tables" / "ncci_ptp.csv"))
        claims = [rulesengine.claims.claim_from_data({
            "claim_id": f"B{i}", "claim_type": "professional", "payer": {"id": "big-ncci"},
            "patient": {"member_id": "M1", "birth_date": "1950-01-01", "sex": "F"},
            "diagnoses": ["E55.9"], "received_date": "2026-03-01",
            "lines": [{"line_number": 1, "procedure": one, "units": 1, "service_date": "2026-02-02"},
                      {"line_number": 2, "procedure": two, "units": 1, "service_date": "2026-02-02"}]})
            for i, (one, two) in enumerate(pairs)]
        same = all(fresh.check(c).to_dict() == cached.check(c).to_dict() for c in claims)
        fired = sum(bool(fresh.check(c).findings) for c in claims)
        print(f"{rows:,} NCCI rows; {len(claims):,} sample claims, {fired:,} with a finding; "
              f"cached and fresh agree: {same}")
        def line(what, seconds, size, peak):
            print(f"  {what:<24} {seconds:5.2f} s ({seconds / dict_s:4.2f}x the dict), holds "
                  f"{size / 1e6:4.0f} MB ({size / dict_bytes:4.2f}x), peak {peak / 1e6:4.0f} MB")
        line("load from files:", fresh_s, fresh_bytes, fresh_peak)
        print(f"  {'first load, cache write:':<24} {write_s:5.2f} s ({write_s / dict_s:4.2f}x the dict)")
        line("load from the cache:", cached_s, cached_bytes, cached_peak)
        line("plain dict of the rows:", dict_s, dict_bytes, dict_peak)


if __name__ == "__main__":
    main()
