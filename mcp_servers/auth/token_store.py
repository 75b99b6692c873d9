"""Where the bearer tokens live: the `0600` tokens file (one server) or a MongoDB collection
(`ZAVA_TOKEN_STORE=mongodb`: every replica sees an issue or a revocation on the next request).

Both hold the same entries (id, SHA-256 of the token, identity, label, created, expiry, revoked) and never
the token itself. The collection is outside the synced set and outside what run_aggregation may read.
"""

from __future__ import annotations

import anyio
from pymongo import ASCENDING, MongoClient
from pymongo.collection import Collection

from mcp_servers.auth.bearer_tokens import TokenStore, check_entry, hash_token, identity_of, new_entry
from zava_core.infra import db as zdb
from zava_core.infra.config import Settings
from zava_core.model.collections import TOKENS
from zava_core.scope import Identity


class MongoTokenStore:
    """The tokens in `<database>.zava_tokens`, read on every request (one indexed lookup, no cache: a
    revocation must reach every replica at once)."""

    def __init__(self, settings: Settings) -> None:
        self._client: MongoClient = MongoClient(zdb.resolve_uri(settings), appname=zdb.APP_NAME,
                                                serverSelectionTimeoutMS=10_000, tz_aware=True, journal=True)
        # PyMongo's sync client (a worker thread serves every event loop), so not zava_core.store's async handles.
        self._tokens: Collection = self._client.get_database(settings.mongodb_database).get_collection(TOKENS)
        self._indexed = False
        self.where = f"the {TOKENS} collection of database {settings.mongodb_database}"

    def _collection(self) -> Collection:
        if not self._indexed:
            self._tokens.create_index([("sha256", ASCENDING)], unique=True)
            self._indexed = True
        return self._tokens

    def has_tokens(self) -> bool:
        return self._tokens.find_one({"revoked": False}, {"_id": 1}) is not None

    def _entry(self, token: str) -> dict | None:
        """The token's entry, in the file's shape (its `_id` is the token id)."""
        doc = self._tokens.find_one({"sha256": hash_token(token)})
        return {"id": doc["_id"], **doc} if doc is not None else None

    def lookup(self, token: str) -> Identity | None:
        return identity_of(self._entry(token))

    def check(self, token: str) -> Identity | str:
        """The token's identity, or why it has none (unknown, revoked, expired)."""
        return check_entry(self._entry(token))

    async def acheck(self, token: str) -> Identity | str:
        # PyMongo's sync client in a worker thread: one client serves every event loop the process runs.
        return await anyio.to_thread.run_sync(self.check, token)

    def issue(self, identity: Identity, *, expires_days: float | None = None, label: str = "") -> tuple[str, str]:
        token, entry = new_entry(identity, expires_days=expires_days, label=label)
        token_id = entry.pop("id")
        self._collection().insert_one({"_id": token_id, **entry})
        return token_id, token

    def revoke(self, token_id: str) -> bool:
        done = self._tokens.update_one({"_id": token_id, "revoked": False}, {"$set": {"revoked": True}})
        return done.modified_count == 1

    def entries(self) -> list[dict]:
        return [{"id": doc.pop("_id"), **doc} for doc in self._tokens.find({}).sort("created_at", ASCENDING)]

    def close(self) -> None:
        self._client.close()


def open_token_store(settings: Settings) -> TokenStore | MongoTokenStore:
    """The store ZAVA_TOKEN_STORE names: `file` (default, ZAVA_TOKENS_FILE) or `mongodb`."""
    if settings.serving.token_store == "mongodb":
        return MongoTokenStore(settings)
    return TokenStore(settings.tokens_path)
