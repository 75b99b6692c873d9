"""Where zava_core meets the database's collections: one typed handle per collection of the model
(`Collections`), each knowing which documents are live and which a scope may see, and the one
transaction helper (`Transactions`, `Abort`), and group commit (`GroupCommit`: writes of one key arriving
together share a transaction). Nothing outside this package names a collection by a
string subscript; the change feed and the read models plug in here."""

from zava_core.store.group_commit import GroupCommit
from zava_core.store.handles import Collections, Handle
from zava_core.store.transactions import Abort, Transactions, duplicate_keys_only

__all__ = ["Abort", "Collections", "GroupCommit", "Handle", "Transactions", "duplicate_keys_only"]
