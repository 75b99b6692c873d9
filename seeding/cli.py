"""`python -m seeding`: build the dataset, verify it, (re)embed products.

    python -m seeding [--scale small|default|full] [--seed N] [--as-of YYYY-MM-DD] [--drop]
                      [--skip-embeddings] [--quiet]
    python -m seeding verify
    python -m seeding embed
    python -m seeding synonyms [--check]

The operator's commands (doctor, indexes, change-streams, clear, ditto-config, ditto-check, encode-password)
live in `python -m zava_ops`; asked for here, they say so in one line.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from datetime import date

from seeding import figures as ref
from zava_core.infra.cli import run_with_settings
from zava_core.infra.config import Settings

log = logging.getLogger("seeding")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: use YYYY-MM-DD") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m seeding", description="Build the Zava DIY dataset.")
    sub = parser.add_subparsers(dest="command")
    parser.add_argument("--scale", choices=list(ref.SCALES), default="default",
                        help="small (2K customers), default (25K), full (50K, parity with the reference)")
    parser.add_argument("--seed", type=int, default=ref.DEFAULT_SEED, help="random seed (same seed, same data)")
    parser.add_argument("--as-of", type=_date, default=None,
                        help="last day of order history, exclusive (default: today, UTC)")
    parser.add_argument("--drop", action="store_true",
                        help="drop the existing dataset first (the only way seeding deletes)")
    parser.add_argument("--skip-embeddings", action="store_true", help="do not embed products")
    parser.add_argument("--quiet", action="store_true", help="no progress bars, only warnings and the summary")
    verify = sub.add_parser("verify", help="compare the dataset's statistics with the reference figures")
    verify.add_argument("--quiet", action="store_true")
    sub.add_parser("embed", help="(re)embed products whose vectors are missing or from another model")
    synonyms = sub.add_parser("synonyms", help="replace the curated synonym mappings with catalog/synonyms.json "
                                               "(an operator's own mappings are kept; servers pick it up live)")
    synonyms.add_argument("--check", action="store_true",
                          help="only check every mapping in search_synonyms is valid for Atlas Search (exit 1 if not)")
    return parser


# Commands that moved to `python -m zava_ops` (where every operator command lives).
MOVED = ("doctor", "indexes", "change-streams", "clear", "ditto-config", "ditto-check", "encode-password")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in MOVED:
        print(f"error: `{argv[0]}` moved: run `python -m zava_ops {' '.join(argv)}`", file=sys.stderr)
        return 2
    args = _parser().parse_args(argv)
    return run_with_settings(lambda settings: _run(args, settings), interrupted="interrupted: re-run the same "
                             "command to resume")


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "verify":
        from seeding.verify import run_verify

        return asyncio.run(run_verify(settings, quiet=args.quiet))
    if args.command == "embed":
        return asyncio.run(_embed(settings))
    if args.command == "synonyms":
        from seeding.synonyms import run_synonyms_command

        return asyncio.run(run_synonyms_command(settings, check_only=args.check))
    return asyncio.run(_seed(settings, args))


async def _seed(settings: Settings, args: argparse.Namespace) -> int:
    from seeding.catalog_loader import load_catalog
    from seeding.generate import Generator
    from seeding.pipeline import SeedingRefused, seed_database
    from seeding.progress import Reporter
    from zava_core.embeddings import get_embedder
    from zava_core.infra import db as zdb
    from zava_core.infra.timeutil import utc_now
    from zava_core.store import Collections

    as_of = args.as_of or utc_now().date()
    generator = Generator(load_catalog(), scale=args.scale, seed=args.seed, as_of=as_of)
    embedder = None if args.skip_embeddings else get_embedder(settings)
    client = await zdb.connect(settings)
    try:
        with Reporter(quiet=args.quiet) as reporter:
            reporter.note(f"seeding {args.scale} (seed {args.seed}, as of {as_of}) into {zdb.where(settings)}")
            try:
                report = await seed_database(Collections(zdb.database(client, settings)), generator, embedder=embedder,
                                             drop=args.drop, reporter=reporter)
            except SeedingRefused as exc:
                print(f"refused: {exc}", file=sys.stderr)
                return 3
    finally:
        await client.close()
    if report.already_complete:
        print(f"database {settings.mongodb_database!r} already holds this dataset (scale {args.scale}, "
              f"seed {args.seed}, as of {as_of}); nothing to do. Use --drop to rebuild it.")
        return 0
    _print_summary(report)
    return 0


def _print_summary(report) -> None:
    total = sum(report.counts.values())
    print(f"seeded {total:,} documents in {report.total_seconds:.1f} s")
    for name, count in report.counts.items():
        seconds = report.seconds.get(name)
        rate = f"{count / seconds:>9,.0f}/s" if seconds else ""
        print(f"  {name:<20} {count:>9,}  {f'{seconds:.1f} s' if seconds else '':>8} {rate}")
    if report.resumed:
        print("resumed (partial collections completed, duplicates skipped): " + ", ".join(report.resumed))
    if report.skipped:
        print("already complete, skipped: " + ", ".join(report.skipped))
    for note in report.notes:
        print(f"  {note}")


async def _embed(settings: Settings) -> int:
    from seeding.pipeline import SeedReport, embed_products
    from seeding.progress import Reporter
    from zava_core.embeddings import get_embedder
    from zava_core.infra import db as zdb
    from zava_core.store import Collections

    embedder = get_embedder(settings)
    client = await zdb.connect(settings)
    try:
        with Reporter() as reporter:
            embedded = await embed_products(Collections(zdb.database(client, settings)), embedder, reporter,
                                            SeedReport())
    finally:
        await client.close()
    print(f"embedded {embedded} products with {embedder.backend} ({embedder.model}, {embedder.dimensions} dims)")
    return 0
