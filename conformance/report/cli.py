"""``python -m conformance.report``: merge result files, or run the matrix.

    python -m conformance.report merge reports/*.json -o reports/matrix.html [--json merged.json]
    python -m conformance.report matrix [--impl NAME]... [--jobs N] [--update-readme]

Each run of the suite writes its results.json (see conformance/report/hooks.py); runs of
different implementations, on different machines or CI jobs, merge into one HTML
matrix. A subject (implementation and dtype) present in several files keeps the result
of the last file given; merge exits 0 when every file was read, 2 otherwise. ``matrix``
runs the suite over every registered implementation (conformance/report/matrix.py).
"""

from __future__ import annotations

import argparse
import sys

from conformance.report import html as report_html
from conformance.report import matrix
from conformance.report import model as results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.report", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    merge = sub.add_parser("merge", help="merge result files into one HTML report (one file: re-render it)")
    merge.add_argument("files", nargs="+", metavar="RESULTS.json")
    merge.add_argument("-o", "--output", default="reports/matrix.html", help="the HTML file (default: %(default)s)")
    merge.add_argument("--json", metavar="FILE", help="also write the merged results model as JSON")
    merge.add_argument("--title", default="BatchNorm1d conformance matrix")
    matrix.add_arguments(sub.add_parser("matrix", help="run the suite over every registered implementation: "
                                        "one table (matrix.md, matrix.html)"))
    args = parser.parse_args(argv)
    if args.command == "matrix":
        return matrix.run(args)

    runs = []
    for name in args.files:
        try:
            runs.append(results.load(name))
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    merged = results.merge(runs, args.files)
    report_html.write(merged, args.output, title=args.title)
    if args.json:
        merged.write(args.json)
    subjects = merged.subjects()
    failing = merged.failing_subjects()
    print(f"{args.output}: {len(subjects)} implementation-dtype pairs from {len(runs)} file(s), "
          f"{len(failing)} not conforming")
    return 0


if __name__ == "__main__":
    sys.exit(main())
