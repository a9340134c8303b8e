"""Run the benchmarks: ``python -m reidlib.bench [eval train_step engine ...] [--quick]``.

Each benchmark module has ``main(quick: bool = False) -> pandas.DataFrame``; it writes
``results/bench/<name>.csv`` atomically and prints the table. Ratios are measured within one run.
"""

from __future__ import annotations

import argparse
import importlib
import sys

BENCHES = ("eval", "train_step", "engine", "cpu_profile")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reidlib.bench", description=__doc__)
    parser.add_argument("names", nargs="*", default=list(BENCHES), help=f"any of {', '.join(BENCHES)}")
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the bench runs")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {list(BENCHES)}")
    for name in args.names:
        print(f"== bench: {name} ==", flush=True)
        importlib.import_module(f"reidlib.bench.{name}").main(quick=args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
