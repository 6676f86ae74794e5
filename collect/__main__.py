"""python -m collect report RESULTS_DIR | compare DIR DIR [...] | instrument RESULTS_DIR"""

from __future__ import annotations

import argparse
import sys

from collect.aggregate import Thresholds
from collect.outputs import OutputError
from collect.rundir import RunDirError


def fraction(text: str) -> float:
    value = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text}: give a fraction in (0, 1] or a percentage")
    return value


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="python -m collect",
        description="Turn wirebench runs' raw results into reports, plots and comparisons.",
    )
    commands = main.add_subparsers(dest="command", required=True)
    report = commands.add_parser(
        "report",
        help="write run.json, summary.csv, report.md and plots into a run folder",
    )
    report.add_argument("run_dir", metavar="RESULTS_DIR", help="a run folder, e.g. results/latest")
    defaults = Thresholds()
    report.add_argument(
        "--unstable",
        type=fraction,
        default=defaults.unstable_cv,
        help="coefficient of variation above which a cell is UNSTABLE (default %(default)s)",
    )
    report.add_argument(
        "--client-bound",
        type=fraction,
        default=defaults.client_cpu_share,
        help="client CPU share of its budget from which a cell is CLIENT-BOUND "
        "(default %(default)s)",
    )
    report.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    compare = commands.add_parser("compare", help="put two or more runs side by side")
    compare.add_argument("run_dirs", metavar="DIR", nargs="+", help="run folders, first = base")
    compare.add_argument(
        "--out", help="folder for compare.md and compare.png (default: next to the first run)"
    )
    compare.add_argument(
        "--alpha",
        type=fraction,
        default=0.05,
        help="significance level of the test (default %(default)s)",
    )
    compare.add_argument("--no-plots", action="store_true", help="skip the PNG plot")
    instrument = commands.add_parser(
        "instrument",
        help="wirebench's native redis cells against their by-hand twins (bare redis-benchmark)",
    )
    instrument.add_argument(
        "run_dir", metavar="RESULTS_DIR", help="a run made with wirebench_by_hand"
    )
    instrument.add_argument(
        "--tolerance",
        type=fraction,
        default=0.03,
        help="largest difference that counts as none (default %(default)s)",
    )
    return main


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "report":
            from collect import report

            thresholds = Thresholds(unstable_cv=args.unstable, client_cpu_share=args.client_bound)
            _, text = report.report(args.run_dir, thresholds, with_plots=not args.no_plots)
        elif args.command == "instrument":
            from collect import instrument

            text = instrument.instrument(args.run_dir, args.tolerance)
        else:
            from collect import compare

            if len(args.run_dirs) < 2:
                raise RunDirError("compare needs at least two run folders")
            text = compare.compare(
                args.run_dirs, args.out, alpha=args.alpha, with_plots=not args.no_plots
            )
    except (RunDirError, OutputError) as exc:
        # Exit 2 with one line naming the folder, file or field: a bad run folder or a full
        # disk is the user's to fix, not a bug to show a traceback for.
        print(f"collect {args.command}: {exc}", file=sys.stderr)
        return 2
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
