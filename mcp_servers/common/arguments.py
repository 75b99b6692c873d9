"""The argument types the tools share, built from `zava_core.limits` (the one home of every limit).

The schema bounds tell the model what is valid before it calls; zava_core checks the same limits again,
for callers that are not MCP tools.
"""

from typing import Annotated, Literal

from pydantic import Field

from zava_core import limits as L
from zava_core.analysis import analytics

MaxRows = Annotated[int, Field(ge=1, le=L.HARD_CAP, description=f"Rows to return, at most {L.HARD_CAP}")]
Sku = Annotated[str, Field(min_length=L.SKU_MIN_CHARS, max_length=L.SKU_MAX_CHARS,
                           description="Product SKU, e.g. PTDR000001")]
CustomerId = Annotated[str, Field(min_length=L.CUSTOMER_ID_MIN_CHARS, max_length=L.CUSTOMER_ID_MAX_CHARS,
                                  description="e.g. cust_000123")]
StoreName = Annotated[str, Field(min_length=L.STORE_NAME_MIN_CHARS, max_length=L.STORE_NAME_MAX_CHARS,
                                 description="Store, e.g. Seattle")]
OptionalStore = Annotated[str | None, Field(max_length=L.STORE_NAME_MAX_CHARS,
                                            description="Store, e.g. Seattle; all yours if omitted")]
Category = Annotated[str | None, Field(max_length=L.CATEGORY_NAME_MAX_CHARS,
                                       description="Category name, e.g. PLUMBING; all if omitted")]
LocationPart = Annotated[str, Field(min_length=1, max_length=L.LOCATION_PART_MAX_CHARS)]
Date = Annotated[str | None, Field(max_length=L.DATE_MAX_CHARS, description="YYYY-MM-DD (inclusive)")]
Stores = Annotated[list[str] | None, Field(max_length=L.MAX_STORES_LISTED,
                                           description="Store names; all yours if omitted")]
Categories = Annotated[list[str] | None, Field(max_length=L.MAX_CATEGORIES_LISTED,
                                               description="Category names, e.g. PLUMBING")]
# The analysis vocabularies, as zava_core defines them (a tuple subscript is the same as listing its values).
GroupBy = Literal[analytics.GROUPINGS]  # type: ignore[valid-type]
Metric = Literal[analytics.METRICS]  # type: ignore[valid-type]
Period = Literal[analytics.PERIODS]  # type: ignore[valid-type]
