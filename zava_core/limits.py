"""Every limit a caller meets, defined once: the servers' argument schemas, zava_core's own checks, the
Ditto statements and the tests read them from here.

Why these numbers: row lists are capped so an answer fits a model's context; text lengths sit well above
any real value (the longest product name is 60 characters, SKUs are 10) and far below what could
flood a message or a query; quantities bound what one order or count can do.
"""

from __future__ import annotations

# Rows returned by any listing tool (and by run_aggregation).
HARD_CAP = 100

# Identifiers and names.
# (A SKU's shape is the model's rule: `zava_core.model.ids.SKU_PATTERN`.)
CUSTOMER_ID_MIN_CHARS, CUSTOMER_ID_MAX_CHARS = 5, 20
STORE_NAME_MIN_CHARS, STORE_NAME_MAX_CHARS = 2, 60
CATEGORY_NAME_MAX_CHARS = 60
COLLECTION_NAME_MAX_CHARS = 40
DATE_MAX_CHARS = 30  # YYYY-MM-DD or a full ISO-8601 timestamp
LOCATION_PART_MAX_CHARS = 12  # one of aisle, shelf, bin

# Search text.
PRODUCT_QUERY_MIN_CHARS, PRODUCT_QUERY_MAX_CHARS = 2, 200
CUSTOMER_QUERY_MIN_CHARS, CUSTOMER_QUERY_MAX_CHARS = 2, 100
SEMANTIC_QUERY_MIN_CHARS, SEMANTIC_QUERY_MAX_CHARS = 3, 1000
SIMILARITY_THRESHOLD_DEFAULT = 30.0  # percent cosine; filters the semantic side of a search only

# Lists given as filters: at most every store (7 + online) or every category (9), once each.
MAX_STORES_LISTED = 8
MAX_CATEGORIES_LISTED = 9
MAX_COLLECTIONS_LISTED = 10
# Product-level filters of the analysis tools: enough for a comparison of a product family, far below the
# 89 types and 424 SKUs (listing everything is what leaving the filter out does).
MAX_PRODUCT_TYPES_LISTED = 20
MAX_SKUS_LISTED = 50

# Sales analysis: dimensions of one sales_summary (store x category x month is the widest useful cut),
# every metric at once, and the lines of one split sales_trend (more lines than this is not a chart).
MAX_GROUP_BY_DIMENSIONS = 3
MAX_METRICS = 7
MAX_TREND_SERIES = 12

# Exports (sales_summary as a CSV behind a resource link): every product by store and month for a year is at
# most 424 x 8 x 12 = 40,704 rows (~4 MB at ~94 bytes a row, measured), so these leave room for that and stop
# a whole history at product level.
# An export is kept in the server's memory, readable by who made it, until it expires; the oldest go first
# when the exports held would exceed EXPORTS_HELD_MAX_BYTES.
EXPORT_MAX_ROWS = 100_000
EXPORT_MAX_BYTES = 16_000_000
EXPORT_TTL_SECONDS = 30 * 60
EXPORTS_HELD_MAX_BYTES = 64_000_000

# Writes.
MAX_ORDER_LINES = 50
# Orders of one store placed while its last transaction ran share the next one (zava_core.store.group_commit):
# at most this many, so a batch's transaction stays short (a write conflict retries the whole batch).
MAX_ORDERS_PER_TRANSACTION = 32
MAX_LINE_QUANTITY = 1_000
IDEMPOTENCY_KEY_MIN_CHARS, IDEMPOTENCY_KEY_MAX_CHARS = 8, 128
MAX_COUNTED_QUANTITY = 1_000_000
# Store operations: a transfer or a delivery moves at most what a pallet run could (far above one store's
# stock of a line); a reason is a sentence, a delivery reference a supplier's document number.
MAX_TRANSFER_QUANTITY = 10_000
MAX_RECEIVED_QUANTITY = 100_000
REASON_MIN_CHARS, REASON_MAX_CHARS = 3, 200
DELIVERY_REFERENCE_MIN_CHARS, DELIVERY_REFERENCE_MAX_CHARS = 3, 64
ORDER_ID_MIN_CHARS, ORDER_ID_MAX_CHARS = 8, 24  # ord_00000001 (seeded) or ord_ + 16 hex digits
# A sync conflict's id: kind|order|SKU (and the moment it was found again after a resolution): ~75 characters.
CONFLICT_ID_MAX_CHARS = 120

# The till: a store manager finds another store's customer only by the exact e-mail or phone the customer hands
# over. Those lookups (and exact lookups no customer matches, so guessing costs the same) are counted per store
# over a rolling hour and refused beyond the limit: a busy till serves a few such walk-ins an hour, while
# collecting other stores' customers one guess at a time would take thousands. A sale to such a customer must
# follow a lookup of them by the same store within the sale window.
MAX_TILL_LOOKUPS_PER_HOUR = 30
TILL_SALE_WINDOW_S = 4 * 3600
# Caller text (a reason, a reference) quoted in a question the user is asked to confirm: one line, this long.
MAX_QUOTED_CALLER_CHARS = 80

# Stock alerts.
LOW_STOCK_THRESHOLD = 10  # the default alert level, and what `low_stock` means on a row
MAX_THRESHOLD = 100_000

# --- run_aggregation: what a pipeline may do while it runs (zava_core.analysis.aggregation) ----------

AGGREGATION_MAX_TIME_MS = 15_000  # sent as maxTimeMS and enforced client-side too (the engine stops late)
AGGREGATION_BYTE_CAP = 64_000  # bytes of JSON returned: a model's context, not a data export
# Pipelines in flight, refused at once rather than queued (a queue would hold callers past their limit).
# One per caller (a store, or head office): a caller cannot occupy the engine with several. Three in all, so
# that admission is fair: two callers holding a slot each (re-issuing pipelines that run to the deadline,
# say) can never shut out a third, who still finds one free; and on a 2-core machine the engine keeps room
# for the typed tools, which are the normal path. (With two in all, two store managers kept head office out
# 22 times out of 22 over 45 s.)
MAX_AGGREGATIONS_PER_CALLER = 1
MAX_AGGREGATIONS_IN_FLIGHT = MAX_AGGREGATIONS_PER_CALLER * 2 + 1

# --- run_aggregation: the shape of a pipeline, checked before it runs (zava_core.analysis.guard) -----
# These bound what a pipeline can ask the engine to do, because the embedded engine does not stop every
# kind of work at maxTimeMS: a runaway regular expression or window keeps it busy long after the caller
# was answered.

# --- size of the pipeline -----------------------------------------------------------------------

MAX_STAGES = 50  # every stage, nested ones included
MAX_PIPELINE_DEPTH = 8  # the pipeline is level 1; each $facet/$lookup/$unionWith sub-pipeline one more
MAX_VALUE_DEPTH = 100  # objects and arrays within a stage (keeps the walk far from Python's recursion limit)
MAX_PIPELINE_BYTES = 50_000
MAX_PATH_CHARS = 80  # of a path inside a stage, in messages

# --- work that multiplies ---------------------------------------------------------------------

# `$unwind` stages in the whole pipeline, nested ones included. Each one multiplies the rows by an
# array's length; two cover every question of this dataset ($lookup then $unwind, and $objectToArray
# of a map then $unwind) while a third level is where row counts explode.
MAX_UNWINDS = 2

# Elements of `$range` arrays. Every `$range` must have literal integer bounds, and the sizes of all of
# them in one pipeline multiply to at most this (as if nested: `$map` over a `$range` whose `in` is
# another `$range` makes their product per document). A thousand is ample for a calendar of days or a
# list of months, and keeps a per-document array small.
MAX_RANGE_ITEMS = 1_000

# Documents in a `$setWindowFields` window: `documents: [a, b]` with integer bounds (or "current")
# within this many of the current document and covering at most this many. The engine computes each
# window afresh, so the work is (documents read) x (window size): bounded windows keep that linear.
MAX_WINDOW_DOCUMENTS = 100

# --- regular expressions ------------------------------------------------------------------------

# Characters of a `$regex`/`$regexMatch` pattern. Patterns are escaped literals only (see
# `analysis.guard_bounds`); the cap keeps each match cheap and a message quoting one short.
MAX_REGEX_CHARS = 100

# --- values that grow -----------------------------------------------------------------------------

# Copies of one piece of stored data (a field, or the whole document) that one value of a pipeline may hold
# (`analysis.guard_growth`). The engine has no value size limit, and a value that copies itself doubles at
# every stage: `$concat` of a field with itself over 25 stages made a 1 GB string from a product name (the
# engine grew from 268 MB to 1.8 GB). Sixteen copies is far above any question's need (a name joined to an
# address counts one copy of each field) and bounds a value to sixteen times the largest document.
MAX_VALUE_COPIES = 16
