"""The operator subcommands of `python -m seeding`: `doctor`, `indexes create|drop|list`,
`change-streams enable|test`, `clear`. Only the argument parsing lives here; the work is in `zava_ops`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable

from pymongo.asynchronous.database import AsyncDatabase

from zava_core.infra import db as zdb
from zava_core.infra.config import Settings
from zava_ops.change_streams import change_streams_enable, change_streams_test
from zava_ops.clear import CLEARABLE, UnknownCollections, chosen_collections
from zava_ops.clear import clear as clear_collections
from zava_ops.indexes import indexes_create, indexes_drop, indexes_list


def register(subparsers: argparse._SubParsersAction) -> None:
    doctor = subparsers.add_parser(
        "doctor", help="check the configuration step by step: URI, DNS, TCP, TLS, auth, roles, server, dataset, "
                       "change streams, search, embeddings (exit 0 when everything the servers need is in place)")
    doctor.add_argument("--timeout", type=float, default=3.0, help="seconds per network step (default 3)")
    doctor.set_defaults(handler=run_doctor_command)

    indexes = subparsers.add_parser("indexes", help="create, drop or list the model's indexes (dataset and rollup)")
    indexes.add_argument("action", choices=("create", "drop", "list"),
                         help="list exits 1 when a model index is missing or differs")
    indexes.set_defaults(handler=run_indexes_command)

    streams = subparsers.add_parser("change-streams", help="enable pre/post images on the synced collections, or "
                                                           "test a change stream with a marker document")
    streams.add_argument("action", choices=("enable", "test"))
    streams.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the test's events")
    streams.set_defaults(handler=run_change_streams_command)

    clear = subparsers.add_parser("clear", help="empty dataset collections (indexes kept) after a typed confirmation")
    clear.add_argument("--collections", nargs="+", metavar="NAME",
                       help=f"collections to empty (default: all of {', '.join(CLEARABLE)}, and the seeding state)")
    clear.add_argument("--yes", action="store_true", help="do not ask for the database name (for scripts)")
    clear.set_defaults(handler=run_clear_command)


async def _with_db(settings: Settings, work: Callable[[AsyncDatabase], Awaitable[int]]) -> int:
    client = await zdb.connect(settings, timeout_ms=10_000)
    try:
        return int(await work(zdb.database(client, settings)))
    finally:
        await client.close()


# --- doctor ----------------------------------------------------------------------------------------

def run_doctor_command(args: argparse.Namespace, settings: Settings) -> int:
    from zava_ops.doctor import run_doctor

    try:
        return asyncio.run(run_doctor(settings, timeout=args.timeout))
    except BrokenPipeError:  # `doctor | head`: the reader left; say nothing more
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (kept open until exit, so the final flush succeeds)
        return 1



def run_indexes_command(args: argparse.Namespace, settings: Settings) -> int:
    action = {"create": indexes_create, "drop": indexes_drop, "list": indexes_list}[args.action]
    return asyncio.run(_with_db(settings, action))


def run_change_streams_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "enable":
        return asyncio.run(_with_db(settings, change_streams_enable))
    return asyncio.run(_with_db(settings, lambda db: change_streams_test(db, args.timeout)))


def run_clear_command(args: argparse.Namespace, settings: Settings) -> int:
    try:
        names = chosen_collections(args.collections)
    except UnknownCollections as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_with_db(settings, lambda db: clear_collections(db, settings, names, args.yes)))
