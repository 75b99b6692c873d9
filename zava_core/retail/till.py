"""The till's allowance and audit: lookups of other stores' customers, counted per store and recorded.

`Scope.can_serve_customer` says who may be found at the till (another store's customer, by the exact e-mail
or phone they hand over). Here is what each such lookup costs: a store makes at most
MAX_TILL_LOOKUPS_PER_HOUR of them in any rolling hour, each recorded in `till_lookups` (who, when, which
customer, by e-mail or phone; never the value). An exact lookup that matches no customer counts as well, so
guessing e-mails or phones costs the same as finding someone. `create_order` sells to another store's
customer only after a lookup of them by the same store within TILL_SALE_WINDOW_S (`sale_customer`).

The count is read before the record is written: calls racing at the limit may each pass (at most as many
over the limit as run at once); the limit bounds collection, not a single lookup.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from zava_core import limits as L
from zava_core.context import Zava
from zava_core.errors import LimitReached
from zava_core.infra.timeutil import iso, now_iso, utc_now
from zava_core.model import till_lookup_document
from zava_core.scope import Scope
from zava_core.store import setup

_ready: set[tuple[str, str]] = set()


async def record_lookup(zava: Zava, scope: Scope, matched_by: str, customer_ids: list[str]) -> None:
    """Count one till lookup by `scope`'s store that found `customer_ids` of other stores (none: nobody has that
    e-mail or phone) and record it; LimitReached (nothing recorded, nothing shown) beyond the hourly limit."""
    (store_id,) = sorted(scope.store_ids)  # head office has no other store's customers: never called for it
    lookups = zava.collections.till_lookups
    await _ensure_indexes(zava)
    since = iso(utc_now() - timedelta(hours=1))
    made = await lookups.count_documents(lookups.live(scope, store_id=store_id, at={"$gte": since}))
    if made >= L.MAX_TILL_LOOKUPS_PER_HOUR:
        raise LimitReached(
            f"till lookups of other stores' customers are limited to {L.MAX_TILL_LOOKUPS_PER_HOUR} an hour per store "
            f"({scope.label} made {made} in the last hour): nothing was looked up; try again later, or search your "
            "own customers by name")
    now = now_iso()
    await lookups.insert_many([till_lookup_document(lookup_id=str(uuid.uuid4()), store_id=store_id,
                                                    caller=scope.caller, matched_by=matched_by, at=now,
                                                    customer_id=customer_id)
                               for customer_id in customer_ids or [None]])


async def _ensure_indexes(zava: Zava) -> None:
    """The audit's indexes, once per process and database (databases made before it existed lack them)."""
    lookups = zava.collections.till_lookups
    marker = (zava.settings.mongodb_uri or "", lookups.database.name)
    if marker not in _ready:
        await setup.create_indexes(zava.collections, [lookups.name])
        _ready.add(marker)

