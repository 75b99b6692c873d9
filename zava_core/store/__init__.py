"""Where zava_core meets the database's collections: one typed handle per collection of the model
(`Collections`), each knowing which documents are live and which a scope may see, and the one
transaction helper (`Transactions`, `Abort`). Nothing outside this package names a collection by a
string subscript; the change feed and the read models plug in here."""

from zava_core.store.handles import Collections, Handle
from zava_core.store.transactions import Abort, Transactions

__all__ = ["Abort", "Collections", "Handle", "Transactions"]
