"""`python -m zava_ops clear`: empty dataset collections (indexes kept) after a typed confirmation,
keeping the seeding state true to what is left.
"""

from __future__ import annotations

import sys

from zava_core.analysis.rollups import ROLLUP_COLLECTIONS
from zava_core.infra.config import Settings
from zava_core.infra.redaction import display_uri
from zava_core.model import DATASET, JOURNALS, STATE_ID
from zava_core.store import Collections

# The journals (stock movements) record changes to the dataset: they are cleared with it.
CLEARABLE = (*DATASET, *ROLLUP_COLLECTIONS, *(spec.name for spec in JOURNALS))


def _target(settings: Settings) -> str:
    return display_uri(settings.mongodb_uri) if settings.mongodb_uri else f"the embedded engine ({settings.data_dir})"


class UnknownCollections(ValueError):
    pass


def chosen_collections(names: list[str] | None) -> list[str]:
    """The collections to clear, in model order; accepts spaces or commas between names."""
    if not names:
        return list(CLEARABLE)
    wanted = [n.strip() for text in names for n in text.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in CLEARABLE]
    if unknown:
        raise UnknownCollections(f"unknown collection(s): {', '.join(unknown)}; valid: {', '.join(CLEARABLE)}")
    return [n for n in CLEARABLE if n in wanted]


def _confirmed(database: str) -> bool:
    print(f"Type the database name ({database}) to confirm: ", end="", flush=True)
    answer = sys.stdin.readline().strip()
    if not sys.stdin.isatty():
        print()  # the typed answer's newline is not echoed when stdin is a pipe
    return answer == database


async def _forget_seeding(collections: Collections, names: list[str]) -> str:
    """Keep the seeding state true to what is left, so `python -m seeding` refills what was cleared."""
    if set(DATASET) <= set(names):
        await collections.meta.delete_one({"_id": STATE_ID})
        return "seeding state removed: `python -m seeding` seeds afresh"
    cleared = {n for n in names if n in DATASET}
    if {"orders", "order_items"} & cleared:
        cleared |= {"orders", "order_items"}  # they load together, chunk by chunk
    update: dict = {"$set": {"status": "running"}, "$unset": {f"done.{n}": "" for n in cleared}}
    if {"orders", "order_items"} & cleared:
        update["$set"]["order_chunks_done"] = 0
    result = await collections.meta.update_one({"_id": STATE_ID}, update)
    if not result.matched_count:
        return "no seeding state in this database"
    return "seeding state marked incomplete: `python -m seeding` with the same parameters refills the cleared ones"


async def clear(collections: Collections, settings: Settings, names: list[str], assume_yes: bool) -> int:
    db = collections.db
    # Estimated (collection metadata): exact counts scan every document, which is slow on big collections.
    counts = {name: await collections[name].estimated_document_count() for name in names}
    print(f"database {db.name!r} on {_target(settings)}: delete every document of")
    for name, count in counts.items():
        print(f"  {name:<20} {count:>9,}")
    print("indexes are kept; nothing outside these collections (and the seeding state) is touched")
    print("if Ditto's connector syncs this database, these deletions reach every device: stop it first")
    if not assume_yes and not _confirmed(db.name):
        print(f"\nnot confirmed (the answer was not {db.name!r}): nothing was deleted", file=sys.stderr)
        return 1
    deleted = 0
    for name in names:
        deleted += (await collections[name].delete_many({})).deleted_count
    note = await _forget_seeding(collections, names)
    print(f"cleared {len(names)} collection(s), {deleted:,} documents deleted; {note}")
    return 0
