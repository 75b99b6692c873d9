"""`python -m mcp_servers.tokens issue|list|revoke`: bearer tokens for the HTTP and SSE transports."""

import argparse
import sys

from mcp_servers.common.runner import tokens_path
from mcp_servers.common.tokens import Identity, TokenStore
from zava_core.config import ConfigError, Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mcp_servers.tokens")
    sub = parser.add_subparsers(dest="command", required=True)
    issue = sub.add_parser("issue", help="issue a token (printed once; only its hash is stored)")
    who = issue.add_mutually_exclusive_group(required=True)
    who.add_argument("--store", help="store the token's holder manages, e.g. seattle")
    who.add_argument("--head-office", action="store_true")
    issue.add_argument("--expires-days", type=float, default=None)
    issue.add_argument("--label", default="")
    sub.add_parser("list", help="list tokens (ids, identities, expiry; never the tokens)")
    revoke = sub.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("token_id")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        store = TokenStore(tokens_path(Settings.from_env()))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.command == "issue":
        identity = Identity(head_office=True) if args.head_office else \
            Identity(head_office=False, store=args.store.strip().lower().removeprefix("store_"))
        token_id, token = store.issue(identity, expires_days=args.expires_days, label=args.label)
        print(f"{token_id} {identity.label}\n{token}", flush=True)
        print(f"(stored as a hash in {store.path}; this is the only time the token is shown)", file=sys.stderr)
        return 0
    if args.command == "list":
        for entry in store.entries():
            state = "revoked" if entry.get("revoked") else "active"
            print(f"{entry['id']}  {entry['identity']:<18} {state:<8} created {entry['created_at']}  {entry['label']}")
        return 0
    if store.revoke(args.token_id):
        print(f"revoked {args.token_id}")
        return 0
    print(f"error: no active token {args.token_id}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
