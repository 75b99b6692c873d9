"""Bearer tokens for the HTTP transports: issued per identity, stored only as SHA-256 hashes.

    python -m mcp_servers.tokens issue --store seattle [--expires-in 10m|12h|90d] [--label "tablet 3"]
    python -m mcp_servers.tokens issue --head-office
    python -m mcp_servers.tokens list
    python -m mcp_servers.tokens revoke TOKEN_ID

The file (ZAVA_TOKENS_FILE, default <data dir>/tokens.json) is re-read when it changes, so a
revocation takes effect on the next request without a restart.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import secrets
import time
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp.server.auth.provider import AccessToken

from zava_core.infra.timeutil import now_iso
from zava_core.scope import Identity

TOKEN_PREFIX = "zava_"
TOKEN_ID_PREFIX = "tok_"


class CallerToken(AccessToken):
    """A verified bearer token carrying the caller's `Identity` itself, so each call reads the object the
    verifier made instead of parsing a string back out of the claims."""

    identity: Identity


def caller_token(token: str, identity: Identity, *, client_id: str | None = None, subject: str | None = None,
                 expires_at: int | None = None, **claims: Any) -> CallerToken:
    """Our tokens name no client or subject but the identity; an identity provider's JWT names both."""
    return CallerToken(token=token, client_id=client_id or identity.label, scopes=["zava"], expires_at=expires_at,
                       subject=subject or identity.label, claims={"identity": identity.label, **claims},
                       identity=identity)


# --- the entries both token stores keep (file and MongoDB): one shape, one rule of validity ------------


def new_entry(identity: Identity, *, expires_days: float | None, label: str) -> tuple[str, dict]:
    """A fresh token and the entry a store keeps for it (never the token itself: its SHA-256)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    entry = {"id": TOKEN_ID_PREFIX + secrets.token_hex(4), "sha256": hash_token(token), "identity": identity.label,
             "label": label, "created_at": now_iso(),
             "expires_at": time.time() + expires_days * 86400 if expires_days else None, "revoked": False}
    return token, entry


ISSUE = "python -m mcp_servers.tokens issue --store STORE"


def token_refusal(entry: dict | None, now: float | None = None) -> str | None:
    """Why a stored entry (None: no entry for the token) does not identify anyone, said so a user can act;
    None when it does. The 401 body and WWW-Authenticate carry it."""
    if entry is None:
        return f"invalid token: no such token was issued here; check it was copied whole, or issue one ({ISSUE})"
    if entry.get("revoked"):
        return f"revoked token: {entry['id']} was revoked; ask for a new one ({ISSUE})"
    expires = entry.get("expires_at")
    if expires and expires < (time.time() if now is None else now):
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires))
        return f"expired token: {entry['id']} expired at {when}; issue a new one ({ISSUE})"
    return None


def check_entry(entry: dict | None) -> Identity | str:
    """The identity a stored entry grants, or why it grants none (missing, revoked, expired)."""
    reason = token_refusal(entry)
    return reason if reason is not None or entry is None else Identity.parse(entry["identity"])


def identity_of(entry: dict | None) -> Identity | None:
    """The identity a stored entry grants: none when it is missing, revoked or expired."""
    found = check_entry(entry)
    return found if isinstance(found, Identity) else None


@dataclass
class Refusal:
    """Why this request's token was refused, noted by the verifier for the HTTP edge (http.py), which
    turns the SDK's bare 401 into a one-line reason; `forbidden` makes it a 403 (a valid token that
    names no identity we serve)."""

    reason: str = ""
    forbidden: bool = False


# Set per request by the HTTP edge; a mutable holder, so a note made deeper in the call is seen there.
REFUSAL: ContextVar[Refusal | None] = ContextVar("zava_refusal", default=None)


def refuse(reason: str, *, forbidden: bool = False) -> None:
    holder = REFUSAL.get()
    if holder is not None:
        holder.reason, holder.forbidden = reason, forbidden


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()




class TokenStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._entries: dict[str, dict] = {}

    def _load(self) -> dict[str, dict]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._entries, self._stamp = {}, None
            return self._entries
        # The inode changes with every atomic replace, so a revocation written within the same
        # timestamp tick as the previous write is still seen.
        stamp = (stat.st_mtime_ns, stat.st_ino, stat.st_size)
        if stamp != self._stamp:
            raw = json.loads(self.path.read_text() or "{}")
            self._entries = {e["sha256"]: e for e in raw.get("tokens", [])}
            self._stamp = stamp
        return self._entries

    @property
    def where(self) -> str:
        return str(self.path)

    def has_tokens(self) -> bool:
        return any(not e.get("revoked") for e in self._load().values())

    def lookup(self, token: str) -> Identity | None:
        return identity_of(self._load().get(hash_token(token)))

    def check(self, token: str) -> Identity | str:
        """The token's identity, or why it has none (unknown, revoked, expired)."""
        return check_entry(self._load().get(hash_token(token)))

    def issue(self, identity: Identity, *, expires_days: float | None = None, label: str = "") -> tuple[str, str]:
        token, entry = new_entry(identity, expires_days=expires_days, label=label)
        self._write([*self._load().values(), entry])
        return entry["id"], token

    def revoke(self, token_id: str) -> bool:
        entries = list(self._load().values())
        found = False
        for entry in entries:
            if entry["id"] == token_id and not entry.get("revoked"):
                entry["revoked"] = True
                found = True
        self._write(entries)
        return found

    def entries(self) -> list[dict]:
        return list(self._load().values())

    def _write(self, entries: list[dict]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)  # a stale copy may carry a wider mode: create ours afresh
        # Created 0600, never written first and narrowed after: the hashes are never readable by others.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps({"tokens": entries}, indent=2))
        tmp.replace(self.path)
        self._stamp = None


class StoreTokenVerifier:
    """The MCP SDK's TokenVerifier: a known, unexpired, unrevoked token becomes an AccessToken. The store
    is the tokens file or the MongoDB collection (`token_store.py`); one with `acheck` is asked without
    blocking the event loop."""

    def __init__(self, store: Any) -> None:
        self.store = store

    async def verify_token(self, token: str) -> AccessToken | None:
        check = getattr(self.store, "acheck", None)
        identity = await check(token) if check is not None and inspect.iscoroutinefunction(check) \
            else self.store.check(token)
        if not isinstance(identity, Identity):
            refuse(identity)  # the 401 says which: unknown, revoked or expired
            return None
        return caller_token(token, identity)
