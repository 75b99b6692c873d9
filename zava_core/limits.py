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
SKU_MIN_CHARS, SKU_MAX_CHARS = 4, 20
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

# Lists given as filters: at most every store (7 + online) or every category (9), once each.
MAX_STORES_LISTED = 8
MAX_CATEGORIES_LISTED = 9
MAX_COLLECTIONS_LISTED = 10

# Writes.
MAX_ORDER_LINES = 50
MAX_LINE_QUANTITY = 1_000
IDEMPOTENCY_KEY_MIN_CHARS, IDEMPOTENCY_KEY_MAX_CHARS = 8, 128
MAX_COUNTED_QUANTITY = 1_000_000

# Stock alerts.
LOW_STOCK_THRESHOLD = 10  # the default alert level, and what `low_stock` means on a row
MAX_THRESHOLD = 100_000
