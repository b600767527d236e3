"""`python -m crm_core export --scheme NAME [--segment NAME ...] [--tag NAME ...]
[--channel sms|email|wecom] --as-of YYYY-MM-DD --out FILE.csv|.xlsx [--user NAME]`

Builds an audience exactly as the Audiences page does (segments of a saved scheme or a
preset, tags, filters), applies the stored contact policy for the channel, writes the
kept customers (CSV in UTF-8 with a BOM, or XLSX by the file's suffix) and records the
export, so the frequency cap counts it. Phone numbers and e-mails are masked unless
--user names an account whose role may see them; without --user the export is recorded
as made by "cli" with an analyst's rights. Prints the counts; user errors exit 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from crm_core import auth
from crm_core.commands.options import as_of_date, output_format
from crm_core.customers.segments import resolve_scheme_ref
from crm_core.errors import InputError
from crm_core.i18n import LANGUAGES
from crm_core.outreach.audiences import (
    DEFAULT_EXPORT_COLUMNS,
    EXPORT_COLUMNS,
    Audience,
    export_audience,
    load_audience_facts,
)
from crm_core.outreach.policy import EXCLUSION_REASONS, load_policy
from crm_core.store import make_engine
from crm_core.store.models import CONTACT_CHANNELS

CLI_ACTOR = auth.Actor("cli", "analyst")
"""Who an export made without --user is recorded as, with an analyst's rights."""


def _range(text: str) -> tuple[float | None, float | None]:
    """ "LOW:HIGH" with either side empty, e.g. "30:90", ":500", "2:"."""
    low, separator, high = text.partition(":")
    if not separator:
        raise argparse.ArgumentTypeError(f"not a range LOW:HIGH: {text!r}")
    try:
        return (float(low) if low else None, float(high) if high else None)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a range LOW:HIGH: {text!r}") from None


def _columns(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write a target list with the contact policy applied and record the export",
    )
    parser.add_argument("--scheme", default="rfm11", help="saved scheme or preset (default rfm11)")
    parser.add_argument("--version", type=int, default=None, help="saved scheme version")
    parser.add_argument("--segment", nargs="+", action="extend", default=[], help="include")
    parser.add_argument("--exclude-segment", nargs="+", action="extend", default=[])
    parser.add_argument("--tag", nargs="+", action="extend", default=[], help="include tags")
    parser.add_argument("--tags-mode", choices=("any", "all"), default="any")
    parser.add_argument("--exclude-tag", nargs="+", action="extend", default=[])
    parser.add_argument("--province", nargs="+", action="extend", default=[])
    parser.add_argument("--acquisition-channel", nargs="+", action="extend", default=[])
    parser.add_argument("--recency-days", type=_range, default=None, metavar="LOW:HIGH")
    parser.add_argument("--frequency", type=_range, default=None, metavar="LOW:HIGH")
    parser.add_argument("--monetary", type=_range, default=None, metavar="LOW:HIGH")
    parser.add_argument("--window-days", type=int, default=None, help="purchase window")
    parser.add_argument("--channel", choices=CONTACT_CHANNELS, default=None)
    parser.add_argument("--as-of", required=True, type=as_of_date, help="YYYY-MM-DD (inclusive)")
    parser.add_argument("--out", required=True, type=Path, help="FILE.csv or FILE.xlsx")
    parser.add_argument(
        "--columns",
        type=_columns,
        default=list(DEFAULT_EXPORT_COLUMNS),
        help=f"comma-separated, from: {', '.join(EXPORT_COLUMNS)}",
    )
    parser.add_argument("--user", default=None, help="the account the export is made as")
    parser.add_argument("--language", choices=LANGUAGES, default="en", help="file language")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    file_format = output_format(args.out)
    engine = make_engine()
    actor = CLI_ACTOR
    if args.user is not None:
        actor = auth.get_active_user(engine, args.user)
        if actor is None:
            raise InputError("audiences.error.user", username=args.user)
    auth.require(actor, auth.DOWNLOAD)
    audience = Audience(
        scheme=args.scheme,
        scheme_version=args.version,
        window_days=args.window_days,
        include_segments=tuple(args.segment),
        exclude_segments=tuple(args.exclude_segment),
        include_tags=tuple(args.tag),
        exclude_tags=tuple(args.exclude_tag),
        tags_mode=args.tags_mode,
        provinces=tuple(args.province),
        channels=tuple(args.acquisition_channel),
        recency_days=args.recency_days,
        frequency=args.frequency,
        monetary=args.monetary,
    )
    scheme, scheme_id = resolve_scheme_ref(engine, args.scheme, args.version)
    facts = load_audience_facts(engine, args.as_of, args.window_days, scheme, scheme_id)
    policy = load_policy(engine)
    exported, result = export_audience(
        engine,
        facts,
        audience,
        channel=args.channel,
        policy=policy,
        actor=actor,
        columns=args.columns,
        file_format=file_format,
        language=args.language,
    )
    args.out.write_bytes(exported.content)
    version = f" v{scheme.version}" if scheme.version else " (preset)"
    print(f"scheme: {scheme.name}{version}; as of {args.as_of.isoformat()}")
    print(f"selected: {len(result.positions):,}")
    for reason in EXCLUSION_REASONS:
        print(f"excluded, {reason}: {result.excluded_counts[reason]:,}")
    masked = "" if actor.may(auth.SEE_PERSONAL_DATA) else " (phone and e-mail masked)"
    print(
        f"wrote {exported.row_count:,} customers to {args.out}{masked}; "
        f"recorded as export #{exported.export_id} by {actor.username}"
    )
    return 0
