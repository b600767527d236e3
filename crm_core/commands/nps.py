"""`python -m crm_core nps --as-of YYYY-MM-DD [--period week|month|quarter]
[--from YYYY-MM-DD] --out FILE.csv|.xlsx`

Writes the Net Promoter Score per period of the survey answers up to the as-of date, one
row per period from the first answer's period to the last (columns period, answers,
promoters, passives, detractors, nps, ci_low, ci_high): nps in points (-100 to 100),
the 95% interval of the adjusted Wald method (see crm_core.voice.nps), empty for a
period without answers. The file goes through the safe writer. User errors exit 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from crm_core.commands.options import as_of_date, output_format
from crm_core.outreach.audiences import render_file
from crm_core.store import make_engine
from crm_core.voice.nps import PERIODS, nps_by_period, survey_answers

NPS_FILE_COLUMNS: tuple[str, ...] = (
    "period",
    "answers",
    "promoters",
    "passives",
    "detractors",
    "nps",
    "ci_low",
    "ci_high",
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("nps", help="write the NPS per week, month or quarter")
    parser.add_argument("--as-of", required=True, type=as_of_date, help="YYYY-MM-DD (inclusive)")
    parser.add_argument("--period", choices=list(PERIODS), default="month")
    parser.add_argument(
        "--from", dest="since", type=as_of_date, default=None, help="first day (YYYY-MM-DD)"
    )
    parser.add_argument("--out", required=True, type=Path, help="FILE.csv or FILE.xlsx")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    file_format = output_format(args.out)
    answers = survey_answers(make_engine(), args.as_of, since=args.since)
    table = nps_by_period(answers, args.period)[list(NPS_FILE_COLUMNS)]
    args.out.write_bytes(render_file(table, file_format, actor=None))
    print(
        f"wrote {len(table):,} periods ({int(table['answers'].sum()):,} answers) as of "
        f"{args.as_of.isoformat()} to {args.out}"
    )
    return 0
