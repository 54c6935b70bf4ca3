"""Benchmark: loading (parsing, checking, compiling) a pack of many rules, to show it grows
linearly with the number of rules.

    python benchmarks/compile.py [--rules 1000,10000,100000]

Writes, into a temporary folder, one pack per size: that many unit-limit rules, each for
its own procedure code (real CPT-shaped five-digit codes 10000..99998), in one file; then
loads each with ``load_pack`` in this process and prints the seconds and the time per
rule. Linear means the time per rule stays about the same as the pack grows.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if importlib.util.find_spec("rulesengine") is None:  # a source checkout, not installed
    sys.path.insert(0, str(HERE.parent))

from rulesengine.packs import load_pack  # noqa: E402

RULE = '''rule UNITS-{i} "Units of {code} above the plan's limit"
  category unit_limit
  for each line where line.procedure = "{code}"
  require line.units <= {limit}
  else deny line CO-151 "{code}: more than {limit} units"

'''


def write_pack(folder: Path, rules: int) -> Path:
    folder.mkdir(parents=True)
    (folder / "pack.yaml").write_text(f'id: many{rules}\nversion: "1"\npayer: Benchmark\n')
    with (folder / "units.rules").open("w") as out:
        for i in range(rules):
            out.write(RULE.format(i=i, code=10000 + i % 89999, limit=1 + i % 7))
    return folder


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--rules", default="1000,10000,100000",
                         help="pack sizes, comma-separated (default: 1000,10000,100000)")
    sizes = [int(n) for n in options.parse_args().rules.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        load_pack(write_pack(Path(tmp) / "warm", 10))  # builds the parser once
        first = None
        print(f"{'rules':>8}  {'seconds':>8}  {'ms per rule':>11}  {'vs first':>8}")
        for size in sizes:
            folder = write_pack(Path(tmp) / f"p{size}", size)
            started = time.perf_counter()
            pack = load_pack(folder)
            seconds = time.perf_counter() - started
            assert len(pack.rules) == size
            per_rule = seconds / size * 1000
            first = first or per_rule
            print(f"{size:>8,}  {seconds:>8.2f}  {per_rule:>11.3f}  {per_rule / first:>7.2f}x")
            del pack


if __name__ == "__main__":
    main()
