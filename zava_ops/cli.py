"""`python -m zava_ops`: the operator's commands, against the embedded engine or `MONGODB_URI`.

    python -m zava_ops doctor [--timeout S]
    python -m zava_ops indexes create|drop|list
    python -m zava_ops change-streams enable|test [--timeout S]
    python -m zava_ops clear [--collections NAME ...] [--yes]
    python -m zava_ops fold status|rebuild
    python -m zava_ops ditto-config [--format operator|portal] [--output FILE] [--namespace N] [--app-name A]
                                    [--big-peer B] [--secret-name S]
    python -m zava_ops ditto-check [--quiet]
    python -m zava_ops encode-password

Only the argument parsing lives here; the work is in the modules beside it and in `zava_ditto`. A setting that
is wrong, or a database that cannot be reached, ends in one `error:` line and exit code 2.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from zava_core.infra import db as zdb
from zava_core.infra.cli import run_with_settings
from zava_core.infra.config import Settings
from zava_core.store import Collections
from zava_ditto import connector_config as ditto_config
from zava_ops.change_streams import change_streams_enable, change_streams_test
from zava_ops.clear import CLEARABLE, UnknownCollections, chosen_collections
from zava_ops.clear import clear as clear_collections
from zava_ops.fold import fold_rebuild, fold_status
from zava_ops.indexes import indexes_create, indexes_drop, indexes_list

COMMANDS = ("doctor", "indexes", "change-streams", "clear", "fold", "ditto-config", "ditto-check", "encode-password")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m zava_ops", description="Operate a Zava database.")
    sub = parser.add_subparsers(dest="command", required=True)

    doctor = sub.add_parser(
        "doctor", help="check the configuration step by step: URI, DNS, TCP, TLS, auth, roles, server, dataset, "
                       "change streams, search, embeddings (exit 0 when everything the servers need is in place)")
    doctor.add_argument("--timeout", type=float, default=3.0, help="seconds per network step (default 3)")
    doctor.set_defaults(handler=_doctor)

    indexes = sub.add_parser("indexes", help="create, drop or list the model's indexes (dataset and rollup)")
    indexes.add_argument("action", choices=("create", "drop", "list"),
                         help="list exits 1 when a model index is missing or differs")
    indexes.set_defaults(handler=_indexes)

    streams = sub.add_parser("change-streams", help="enable pre/post images on the synced collections, or "
                                                    "test a change stream with a marker document")
    streams.add_argument("action", choices=("enable", "test"))
    streams.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the test's events")
    streams.set_defaults(handler=_change_streams)

    clear = sub.add_parser("clear", help="empty dataset collections (indexes kept) after a typed confirmation")
    clear.add_argument("--collections", nargs="+", metavar="NAME",
                       help=f"collections to empty (default: all of {', '.join(CLEARABLE)}, and the seeding state)")
    clear.add_argument("--yes", action="store_true", help="do not ask for the database name (for scripts)")
    clear.set_defaults(handler=_clear)

    fold = sub.add_parser("fold", help="the sales fold: where the change feed stands (status), or rebuild the "
                                       "rollups from the collections (rebuild)")
    fold.add_argument("action", choices=("status", "rebuild"), help="status exits 1 when no position is stored")
    fold.set_defaults(handler=_fold)

    config = sub.add_parser(
        "ditto-config", help="print the Ditto MongoDB Connector configuration generated from the model "
                             "(an Operator manifest or a Portal checklist)")
    config.add_argument("--format", choices=["operator", "portal"], default="operator",
                        help="operator: a BigPeerDataBridge YAML manifest (self-hosted Ditto Server); "
                             "portal: a Markdown checklist for the Ditto Portal (cloud)")
    config.add_argument("--output", type=Path, default=None, help="write to FILE instead of stdout")
    defaults = ditto_config.OperatorOptions()
    config.add_argument("--namespace", default=defaults.namespace, help="Kubernetes namespace (operator)")
    config.add_argument("--app-name", default=defaults.app_name, help="the Big Peer app's name (operator)")
    config.add_argument("--big-peer", default=defaults.big_peer, help="the Big Peer's name (operator)")
    config.add_argument("--secret-name", default=defaults.secret_name,
                        help="the Kubernetes Secret holding connectionString (operator)")
    config.set_defaults(handler=_ditto_config)

    check = sub.add_parser(
        "ditto-check", help="verify the database meets every prerequisite of the Ditto MongoDB Connector")
    check.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    check.set_defaults(handler=_ditto_check)

    sub.add_parser("encode-password", help="URL-encode a password for a connection string (read from a prompt "
                                           "or stdin, never from an argument)").set_defaults(handler=None)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "encode-password":
        return _encode_password()
    return run_with_settings(lambda settings: args.handler(args, settings))


def _with_collections(settings: Settings, work: Callable[[Collections], Awaitable[int]]) -> int:
    async def run() -> int:
        client = await zdb.connect(settings, timeout_ms=10_000)
        try:
            return int(await work(Collections(zdb.database(client, settings))))
        finally:
            await client.close()

    return asyncio.run(run())


def _doctor(args: argparse.Namespace, settings: Settings) -> int:
    from zava_ops.doctor import run_doctor

    try:
        return asyncio.run(run_doctor(settings, timeout=args.timeout))
    except BrokenPipeError:  # `doctor | head`: the reader left; say nothing more
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (kept open until exit, so the final flush succeeds)
        return 1


def _indexes(args: argparse.Namespace, settings: Settings) -> int:
    action = {"create": indexes_create, "drop": indexes_drop, "list": indexes_list}[args.action]
    return _with_collections(settings, action)


def _change_streams(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "enable":
        return _with_collections(settings, change_streams_enable)
    return _with_collections(settings, lambda collections: change_streams_test(collections, args.timeout))


def _clear(args: argparse.Namespace, settings: Settings) -> int:
    try:
        names = chosen_collections(args.collections)
    except UnknownCollections as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return _with_collections(settings, lambda collections: clear_collections(collections, settings, names, args.yes))


def _fold(args: argparse.Namespace, settings: Settings) -> int:
    return _with_collections(settings, fold_status if args.action == "status" else fold_rebuild)


def _ditto_config(args: argparse.Namespace, settings: Settings) -> int:
    if args.format == "operator":
        text = ditto_config.operator_manifest(ditto_config.OperatorOptions(
            database=settings.mongodb_database, namespace=args.namespace, app_name=args.app_name,
            big_peer=args.big_peer, secret_name=args.secret_name))
    else:
        # Settings does not read the DITTO_* names (yet); Settings.from_env has loaded `.env` by now.
        text = ditto_config.portal_checklist(
            settings.mongodb_database, app_id=os.environ.get("DITTO_APP_ID", "").strip() or None,
            cloud_endpoint=os.environ.get("DITTO_CLOUD_ENDPOINT", "").strip() or None)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output} ({args.format})", file=sys.stderr)
    return 0


def _ditto_check(args: argparse.Namespace, settings: Settings) -> int:
    from zava_ditto import check as ditto_check

    def err(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    async def work(collections: Collections) -> int:
        target = "the embedded engine" if settings.uses_embedded_engine else "MongoDB"
        print(f"ditto-check: database {settings.mongodb_database!r} on {target}")
        return await ditto_check.run(collections, out=print, err=err)

    return _with_collections(settings, work)


def _encode_password() -> int:
    import getpass
    from urllib.parse import quote

    password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\r\n")
    if not password:
        print("error: empty password", file=sys.stderr)
        return 2
    print(quote(password, safe=""))
    return 0
