"""`python -m mcp_servers.tokens issue|list|revoke`: bearer tokens for the HTTP and SSE transports.

`issue` prints the token alone on stdout (so `TOKEN=$(python -m mcp_servers.tokens issue --store seattle)`
captures just it); its id and identity go to stderr. The store is checked against the database's stores
when the token is issued, not when it is first used. With ZAVA_TOKEN_STORE=mongodb the tokens live in the
database (every replica sees them at once) instead of the tokens file.
"""

import argparse
import asyncio
import re
import sys
import time

from pymongo.errors import PyMongoError

from mcp_servers.auth.bearer_tokens import TokenStore
from mcp_servers.auth.token_store import MongoTokenStore, open_token_store
from zava_core.directory import ReferenceData
from zava_core.errors import InvalidArgument, ZavaError
from zava_core.infra import db as zdb
from zava_core.infra.config import Settings
from zava_core.infra.redaction import redact, settings_secrets
from zava_core.model.ids import store_key
from zava_core.scope import Identity
from zava_core.store import Collections

MIN_EXPIRES_DAYS = 1.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mcp_servers.tokens")
    sub = parser.add_subparsers(dest="command", required=True)
    issue = sub.add_parser("issue", help="issue a token (printed once; only its hash is stored)")
    who = issue.add_mutually_exclusive_group(required=True)
    who.add_argument("--store", help="store the token's holder manages, e.g. seattle")
    who.add_argument("--head-office", action="store_true")
    expiry = issue.add_mutually_exclusive_group()
    expiry.add_argument("--expires-in", default=None, metavar="DURATION",
                        help="how long it lasts: minutes, hours or days, e.g. 10m, 12h, 90d; never expires if omitted")
    expiry.add_argument("--expires-days", type=float, default=None,
                        help=f"days until it expires (at least {MIN_EXPIRES_DAYS:g})")
    issue.add_argument("--label", default="", help="who or what holds it, e.g. 'tablet 3'")
    sub.add_parser("list", help="list tokens (ids, identities, state, expiry; never the tokens)")
    revoke = sub.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("token_id")
    return parser


async def _store_key(settings: Settings, name: str) -> str:
    """The store as tokens name it (`seattle`), resolved from any of its names in the database."""
    client = await zdb.connect(settings)
    try:
        directory = (await ReferenceData(Collections(zdb.database(client, settings)),
                                         empty=zdb.nothing_seeded(settings)).get()).stores
        return store_key(directory.resolve(name).store_id)
    finally:
        await client.close()


DURATION = re.compile(r"(\d+(?:\.\d+)?)([mhd])")
UNIT_DAYS = {"m": 1 / 1440, "h": 1 / 24, "d": 1.0}


def duration_days(text: str) -> float:
    """`10m`, `12h`, `90d` in days; InvalidArgument (one line, with examples) for anything else."""
    match = DURATION.fullmatch(text.strip().lower())
    if match is None or float(match.group(1)) <= 0:
        raise InvalidArgument(f"--expires-in takes a number and a unit (m, h or d), e.g. 10m, 12h or 90d; got {text!r}")
    return float(match.group(1)) * UNIT_DAYS[match.group(2)]


def _issue(store: TokenStore | MongoTokenStore, settings: Settings, args: argparse.Namespace) -> int:
    if args.expires_days is not None and not args.expires_days >= MIN_EXPIRES_DAYS:
        raise InvalidArgument(f"--expires-days must be at least {MIN_EXPIRES_DAYS:g} (--expires-in 10m for less); "
                              "leave it out for a token that never expires")
    if args.expires_in is not None:
        args.expires_days = duration_days(args.expires_in)
    identity = Identity(head_office=True) if args.head_office else \
        Identity(head_office=False, store=asyncio.run(_store_key(settings, args.store)))
    token_id, token = store.issue(identity, expires_days=args.expires_days, label=args.label)
    print(token, flush=True)
    until = "never expires" if args.expires_days is None else \
        time.strftime("expires %Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + args.expires_days * 86400))
    print(f"{token_id} {identity.label}, {until} (stored as a hash in {store.where}; this is the only time the "
          "token is shown)", file=sys.stderr)
    return 0


def _list(store: TokenStore | MongoTokenStore) -> int:
    now = time.time()
    for entry in store.entries():
        expires = entry.get("expires_at")
        state = "revoked" if entry.get("revoked") else "expired" if expires and expires < now else "active"
        until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires)) if expires else "never"
        print(f"{entry['id']}  {entry['identity']:<18} {state:<8} expires {until:<20} "
              f"created {entry['created_at']}  {entry['label']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        settings = Settings.from_env()
        store = open_token_store(settings)  # ZAVA_TOKEN_STORE: the tokens file or MongoDB
        if settings.serving.auth == "oidc" and args.command == "issue":
            print("warning: ZAVA_AUTH=oidc: servers configured so take identities from the identity provider "
                  "and do not accept this token", file=sys.stderr)
        if args.command == "issue":
            return _issue(store, settings, args)
        if args.command == "list":
            return _list(store)
        if store.revoke(args.token_id):
            print(f"revoked {args.token_id}")
            return 0
        print(f"error: no active token {args.token_id}: see the ids with python -m mcp_servers.tokens list",
              file=sys.stderr)
        return 1
    except ZavaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except PyMongoError as exc:  # ZAVA_TOKEN_STORE=mongodb and the database did not answer
        print(f"error: the token store in MongoDB is unavailable: {redact(str(exc), settings_secrets(settings))[:200]}",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
