"""`python -m seeding ditto-config` and `python -m seeding ditto-check`: the Ditto MongoDB Connector.

    python -m seeding ditto-config [--format operator|portal] [--output FILE] [--namespace N] [--app-name A]
                                   [--big-peer B] [--secret-name S]
    python -m seeding ditto-check [--quiet]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from zava_core.infra.config import Settings
from zava_ditto import connector_config as ditto_config


def register(subparsers: argparse._SubParsersAction) -> None:
    config = subparsers.add_parser(
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
    config.set_defaults(handler=run_config)

    check = subparsers.add_parser(
        "ditto-check", help="verify the database meets every prerequisite of the Ditto MongoDB Connector")
    check.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    check.set_defaults(handler=run_check)


def run_config(args: argparse.Namespace, settings: Settings) -> int:
    if args.format == "operator":
        text = ditto_config.operator_manifest(ditto_config.OperatorOptions(
            database=settings.mongodb_database, namespace=args.namespace, app_name=args.app_name,
            big_peer=args.big_peer, secret_name=args.secret_name))
    else:
        # Settings does not read the DITTO_* names (yet); `python -m seeding` has loaded `.env` by now.
        text = ditto_config.portal_checklist(
            settings.mongodb_database, app_id=os.environ.get("DITTO_APP_ID", "").strip() or None,
            cloud_endpoint=os.environ.get("DITTO_CLOUD_ENDPOINT", "").strip() or None)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output} ({args.format})", file=sys.stderr)
    return 0


def run_check(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_check(settings, quiet=args.quiet))


async def _check(settings: Settings, *, quiet: bool) -> int:
    from zava_core.infra import db as zdb
    from zava_ditto import check as ditto_check

    client = await zdb.connect(settings)
    try:
        target = "the embedded engine" if settings.uses_embedded_engine else "MongoDB"
        print(f"ditto-check: database {settings.mongodb_database!r} on {target}")

        def err(line: str) -> None:
            if not quiet:
                print(line, file=sys.stderr, flush=True)

        return await ditto_check.run(zdb.database(client, settings), out=print, err=err)
    finally:
        await client.close()
