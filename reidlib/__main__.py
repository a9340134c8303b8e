"""Command line: ``python -m reidlib {train,eval,list,profile,tables,show,readme} ...`` (also ``reidlib``).

  python -m reidlib train amfl.table1.e --profile cpu --dataset synthreid [--data-root D] [--seed S]
  python -m reidlib eval results/runs/amfl.table1.e/cpu-synthreid-s0 [--rerank] [--dataset D] [--multi-query]
  python -m reidlib list [PREFIX]
  python -m reidlib profile amfl.table2.a [--json]
  python -m reidlib tables [--makefile]      # every paper table / figure: make target, notebook, rows
  python -m reidlib show amfl/table1 [--profile cpu] [--output-dir D]
  python -m reidlib readme                   # README's results section from results/**/*.md

Several processes / GPUs / nodes: ``torchrun --nproc_per_node=N -m reidlib train ...`` (see
:mod:`reidlib.engine.distributed`).
"""

from __future__ import annotations

import argparse
import os
import sys


def _cmd_train(args: argparse.Namespace) -> int:
    from reidlib import experiments
    from reidlib.engine import get_profile, train
    from reidlib.pretrain import standin_weights

    ref = get_profile(args.profile, experiments.get(args.name).recipe).pretrained
    if ref and ref.startswith("standin-"):  # the cpu profile fine-tunes a stand-in: pretrain it first, once
        standin_weights(ref, progress=not args.no_progress)
    res = train(args.name, profile=args.profile, dataset=args.dataset, data_root=args.data_root,
                seed=args.seed, device=args.device, runs_root=args.runs_root, progress=not args.no_progress)
    if os.environ.get("RANK", "0") == "0":  # torchrun: rank 0 reports
        _print_metrics(res.run_dir, res.metrics)
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from reidlib.engine import evaluate_run
    from reidlib.engine.evaluation import metric_key

    res = evaluate_run(args.run_dir, dataset=args.dataset, data_root=args.data_root, rerank=args.rerank,
                       multi_query=args.multi_query, device=args.device)
    dataset = args.dataset or json.loads((Path(args.run_dir) / "config.json").read_text())["dataset"]
    _print_metrics(args.run_dir, {metric_key(dataset, args.multi_query, args.rerank): res})
    return 0


def _print_metrics(run_dir, metrics: dict) -> None:
    print(f"run: {run_dir}")
    for key, m in metrics.items():
        print(f"  {key:<28} rank-1 {100 * m['rank1']:6.2f}  rank-5 {100 * m['rank5']:6.2f}  "
              f"rank-10 {100 * m['rank10']:6.2f}  mAP {100 * m['mAP']:6.2f}  mINP {100 * m['mINP']:6.2f}")


def _cmd_list(args: argparse.Namespace) -> int:
    from reidlib import experiments

    names = experiments.names(args.prefix)
    width = max((len(n) for n in names), default=0)
    for n in names:
        print(f"{n:<{width}}  {experiments.REGISTRY[n].description}")
    return 0


def _cmd_profile(args: argparse.Namespace) -> int:
    from reidlib import complexity

    return complexity.main([args.name] + (["--json"] if args.json else [])) or 0


def _cmd_tables(args: argparse.Namespace) -> int:
    from reidlib import tables

    print(tables.makefile() if args.makefile else tables.listing(), end="\n" if not args.makefile else "")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from reidlib.reproduce import show

    for t in args.tables:
        print(show(t, args.profile, args.output_dir))
    return 0


def _cmd_readme(args: argparse.Namespace) -> int:
    from reidlib.paths import repo_root
    from reidlib.reports import update_readme

    root = repo_root()
    n = update_readme(root / "README.md", root / "results")
    print(f"README.md: results section rebuilt from {n} tables")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m reidlib", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a configuration (or reuse / resume its run)")
    p.add_argument("name", help="configuration name, e.g. amfl.table1.e (`list` prints them)")
    p.add_argument("--profile", default="cpu", choices=["smoke", "cpu", "paper"])
    p.add_argument("--dataset", default="synthreid")
    p.add_argument("--data-root", default=None, help="default: $REIDLIB_DATA, else data/")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--runs-root", default="results/runs")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bar")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("eval", help="evaluate a finished run (cached in its metrics.json)")
    p.add_argument("run_dir")
    p.add_argument("--dataset", default=None, help="another dataset: cross-domain evaluation")
    p.add_argument("--data-root", default=None)
    p.add_argument("--rerank", action="store_true", help="k-reciprocal re-ranking (k1=20, k2=6, lambda=0.3)")
    p.add_argument("--multi-query", action="store_true", help="Market multi-query (gt_bbox pooling)")
    p.add_argument("--device", default="auto")
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser("list", help="every configuration with a one-line description")
    p.add_argument("prefix", nargs="?", default="", help="e.g. amfl.table3.")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("profile", help="test-time parameters and GMACs of a configuration")
    p.add_argument("name")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_profile)

    p = sub.add_parser("tables", help="every paper table and figure: make target, notebook, rows")
    p.add_argument("--makefile", action="store_true", help="print tables.mk (the Makefile's reproduce targets)")
    p.set_defaults(func=_cmd_tables)

    p = sub.add_parser("show", help="print a written table, results/<paper>/<table>.md")
    p.add_argument("tables", nargs="+", help="paper/table, e.g. amfl/table1")
    p.add_argument("--profile", default="cpu", choices=["smoke", "cpu", "paper"])
    p.add_argument("--output-dir", default=None)
    p.set_defaults(func=_cmd_show)

    p = sub.add_parser("readme", help="rebuild README.md's results section from results/**/*.md")
    p.set_defaults(func=_cmd_readme)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; errors in the configuration or data print one clear line and exit 2."""
    from reidlib.engine import ConfigurationError, NonFiniteLossError, RunConfigMismatchError
    from reidlib.engine.checkpoint import CheckpointError
    from reidlib.engine.distributed import DeviceError
    from reidlib.engine.evaluation import RunNotFinishedError
    from reidlib.engine.profiles import UnknownProfileError
    from reidlib.experiments import UnknownExperimentError

    expected = (UnknownExperimentError, UnknownProfileError, ConfigurationError, RunConfigMismatchError,
                NonFiniteLossError, CheckpointError, FileNotFoundError, DeviceError, RunNotFinishedError,
                _data_error())
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except expected as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `python -m reidlib list | head`: the reader left, nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0


def _data_error() -> type[Exception]:
    from reidlib.data.errors import ReidDataError

    return ReidDataError


if __name__ == "__main__":
    sys.exit(main())
