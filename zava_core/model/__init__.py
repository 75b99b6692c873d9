"""The document model, defined once: `documents` (the pydantic shapes), `collections` (ids, indexes,
store scope, sync), `builders` (the one way each shared document kind is written). Everything is
re-exported here, so callers import from `zava_core.model`."""

from zava_core.model.builders import (
    embedding_document,
    net_line,
    new_order_id,
    new_order_status,
    order_header,
    order_line,
    seeded_order_id,
    stock_movement,
)
from zava_core.model.collections import (
    COLLECTIONS,
    DATASET,
    JOURNALS,
    META,
    QUERYABLE,
    ROLLUPS,
    SPECS,
    STATE_ID,
    SYNCED_COLLECTIONS,
    VECTOR_INDEX_NAME,
    CollectionSpec,
    Direction,
    IndexSpec,
    StoreScope,
)
from zava_core.model.documents import *  # noqa: F403 (the document classes and field types)
from zava_core.model.documents import MONTHS, TIMESTAMP_PATTERN, is_timestamp

__all__ = [
    "COLLECTIONS",
    "DATASET",
    "JOURNALS",
    "META",
    "MONTHS",
    "QUERYABLE",
    "ROLLUPS",
    "SPECS",
    "STATE_ID",
    "SYNCED_COLLECTIONS",
    "TIMESTAMP_PATTERN",
    "VECTOR_INDEX_NAME",
    "CollectionSpec",
    "Direction",
    "IndexSpec",
    "StoreScope",
    "embedding_document",
    "is_timestamp",
    "net_line",
    "new_order_id",
    "new_order_status",
    "order_header",
    "order_line",
    "seeded_order_id",
    "stock_movement",
]
