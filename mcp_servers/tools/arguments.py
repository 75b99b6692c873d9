"""The argument types the tools share, built from `zava_core.limits` (the one home of every limit).

The schema bounds tell the model what is valid before it calls; zava_core checks the same limits again,
for callers that are not MCP tools.
"""

from typing import Annotated, Any, Literal, get_args

from pydantic import Field
from pydantic.fields import FieldInfo

from zava_core import limits as L
from zava_core.analysis import analytics
from zava_core.model.ids import SkuText
from zava_core.retail import conflicts, order_status, search

# Its bounds and its name say it all: a description would repeat them in every tool, on every turn.
MaxRows = Annotated[int, Field(ge=1, le=L.HARD_CAP)]
Sku = SkuText
CustomerId = Annotated[str, Field(min_length=L.CUSTOMER_ID_MIN_CHARS, max_length=L.CUSTOMER_ID_MAX_CHARS,
                                  description="e.g. cust_000123")]
StoreName = Annotated[str, Field(min_length=L.STORE_NAME_MIN_CHARS, max_length=L.STORE_NAME_MAX_CHARS,
                                 description="e.g. Seattle")]
OptionalStore = Annotated[str | None, Field(max_length=L.STORE_NAME_MAX_CHARS,
                                            description="e.g. Seattle; all yours if omitted")]
Category = Annotated[str | None, Field(max_length=L.CATEGORY_NAME_MAX_CHARS,
                                       description="e.g. PLUMBING; all if omitted")]
LocationPart = Annotated[str, Field(min_length=1, max_length=L.LOCATION_PART_MAX_CHARS)]
Date = Annotated[str | None, Field(max_length=L.DATE_MAX_CHARS, description="YYYY-MM-DD (inclusive)")]
Stores = Annotated[list[str] | None, Field(max_length=L.MAX_STORES_LISTED,
                                           description="Store names; all yours if omitted")]
Categories = Annotated[list[str] | None, Field(max_length=L.MAX_CATEGORIES_LISTED,
                                               description="Category names, e.g. PLUMBING")]
ProductTypes = Annotated[list[str] | None, Field(max_length=L.MAX_PRODUCT_TYPES_LISTED,
                                                  description="Product type names, e.g. DRILLS")]
Skus = Annotated[list[str] | None, Field(max_length=L.MAX_SKUS_LISTED, description="SKUs, e.g. PTDR000001")]
# The analysis vocabularies, as zava_core defines them (a tuple subscript is the same as listing its values).
Dimension = Literal[analytics.GROUPINGS]  # type: ignore[valid-type]
Metric = Literal[analytics.METRICS]  # type: ignore[valid-type]
Period = Literal[analytics.PERIODS]  # type: ignore[valid-type]
SearchMode = Annotated[Literal[search.SEARCH_MODES], Field(  # type: ignore[valid-type]
    description="hybrid: words and meaning fused; semantic: meaning only; lexical: words only")]
Split = Literal[analytics.SPLITS]  # type: ignore[valid-type]
Comparison = Literal[analytics.COMPARISONS]  # type: ignore[valid-type]
GroupBy = Annotated[Dimension | Annotated[list[Dimension], Field(  # type: ignore[valid-type]
    min_length=1, max_length=L.MAX_GROUP_BY_DIMENSIONS)], Field(
    description=f"Up to {L.MAX_GROUP_BY_DIMENSIONS} dimensions, e.g. [\"store\", \"category\"]")]
Metrics = Annotated[Metric | Annotated[list[Metric], Field(  # type: ignore[valid-type]
    min_length=1, max_length=L.MAX_METRICS)], Field(description="e.g. [\"revenue\", \"gross_margin_percent\"]")]
OrderBy = Annotated[Metric | None, Field(description="One of the metrics; default the first")]  # type: ignore[valid-type]
# Store operations (customer-sales write tools).
OrderId = Annotated[str, Field(min_length=L.ORDER_ID_MIN_CHARS, max_length=L.ORDER_ID_MAX_CHARS,
                               description="e.g. ord_00000123")]
IdempotencyKey = Annotated[str, Field(min_length=L.IDEMPOTENCY_KEY_MIN_CHARS, max_length=L.IDEMPOTENCY_KEY_MAX_CHARS,
                                      description="Unique per request; resend it to retry")]
Reason = Annotated[str, Field(min_length=L.REASON_MIN_CHARS, max_length=L.REASON_MAX_CHARS)]
TransferQuantity = Annotated[int, Field(ge=1, le=L.MAX_TRANSFER_QUANTITY, strict=True)]
ReceivedQuantity = Annotated[int, Field(ge=1, le=L.MAX_RECEIVED_QUANTITY, strict=True)]
DeliveryReference = Annotated[str, Field(min_length=L.DELIVERY_REFERENCE_MIN_CHARS,
                                         max_length=L.DELIVERY_REFERENCE_MAX_CHARS,
                                         description="Supplier's reference, e.g. PO-2026-0117")]
ConflictStatus = Literal[conflicts.STATUSES]  # type: ignore[valid-type]
ConflictId = Annotated[str, Field(min_length=1, max_length=L.CONFLICT_ID_MAX_CHARS)]
DeliveryStatus = Literal[order_status.DELIVERY_STATUSES]  # type: ignore[valid-type]


def terse(annotated: Any) -> Any:
    """`annotated` with the same constraints and no description: for a tool whose arguments are another tool's,
    explained there once (tools/list is read on every turn)."""
    base, *metadata = get_args(annotated)
    return Annotated[(base, *(FieldInfo.merge_field_infos(m, description=None) if isinstance(m, FieldInfo) else m
                              for m in metadata))]
