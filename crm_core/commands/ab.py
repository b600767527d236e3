"""`python -m crm_core ab FILE --variant-column COL --outcome-column COL [--control NAME]
[--alpha 0.05]`

Reads a file with one row per unit (CSV or XLSX, any usual encoding), compares every
variant with the control (default: the first variant in sorted order) and prints one
line per non-control variant: both rates in % (or both means for a numeric outcome), the
difference in percentage points (or in the outcome's unit) with its 1 - alpha interval,
z (or Welch's t) and the two-sided p (and Holm's p when there are several variants);
then a last line with the sample ratio check against equal planned shares.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from crm_core.ingest.read import read_table
from crm_core.outreach.experiments import (
    PROPORTION,
    SRM_THRESHOLD,
    ABReport,
    ProportionTest,
    ab_report,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ab", help="A/B test: compare each variant's rate or mean with the control's"
    )
    parser.add_argument("file", type=Path, help="CSV or XLSX file, one row per unit")
    parser.add_argument("--variant-column", required=True, help="column naming each unit's arm")
    parser.add_argument(
        "--outcome-column",
        required=True,
        help="column with the outcome: 0/1, true/false or yes/no (rates), else numbers (means)",
    )
    parser.add_argument(
        "--control", default=None, help="the control variant (default: first in sorted order)"
    )
    parser.add_argument(
        "--alpha", type=float, default=0.05, help="significance level (default 0.05)"
    )
    parser.set_defaults(handler=run)


def _p(value: float) -> str:
    return f"{value:.3g}"


def comparison_line(report: ABReport, variant: str) -> str:
    """One variant against the control: rates in % and the difference in percentage
    points (a proportion), or means and the difference in the outcome's unit."""
    test = report.comparisons[variant]
    level = f"{(1 - report.alpha) * 100:g}% CI"
    if isinstance(test, ProportionTest):
        arms = f"{test.treated_rate * 100:.2f}% vs {test.control_rate * 100:.2f}%"
        difference = (
            f"difference {test.difference * 100:+.2f} pp "
            f"({level} {test.ci_low * 100:.2f} to {test.ci_high * 100:.2f} pp)"
        )
        statistic = f"z = {test.z:.4f}"
    else:
        arms = f"mean {test.treated_mean:,.2f} vs {test.control_mean:,.2f}"
        interval = f"{level} {test.ci_low:,.2f} to {test.ci_high:,.2f}"
        difference = f"difference {test.difference:+,.2f} ({interval})"
        statistic = f"t = {test.t:.4f} (df {test.df:,.1f})"
    line = (
        f"{variant} vs {report.control}: {arms}, {difference}, {statistic}, p = {_p(test.p_value)}"
    )
    if len(report.comparisons) > 1:
        holm = report.arms.set_index("variant").at[variant, "p_holm"]
        line += f", Holm p = {_p(holm)}"
    return line


def srm_line(report: ABReport) -> str:
    """The sample ratio check: arm sizes, chi-square with its df, p and the verdict."""
    srm = report.srm
    sizes = ", ".join(
        f"{variant} {n:,}" for variant, n in zip(report.arms["variant"], srm.observed, strict=True)
    )
    verdict = "MISMATCH" if srm.mismatch else "no mismatch"
    return (
        f"sample ratio (planned equal shares): {sizes}; chi-square = {srm.chi_square:.3f} "
        f"(df {len(srm.observed) - 1}), p = {_p(srm.p_value)}: {verdict} "
        f"(flagged when p < {SRM_THRESHOLD:g})"
    )


def run(args: argparse.Namespace) -> int:
    frame = read_table(args.file)
    report = ab_report(frame, args.variant_column, args.outcome_column, args.control, args.alpha)
    kind = "yes/no outcome, rates" if report.kind == PROPORTION else "numeric outcome, means"
    print(
        f"{args.outcome_column} by {args.variant_column} ({kind}); control {report.control}; "
        f"{int(report.arms['n'].sum()):,} rows"
    )
    for variant in report.comparisons:
        print(comparison_line(report, variant))
    print(srm_line(report))
    return 0
