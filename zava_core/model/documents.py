"""The documents, defined once: each collection's pydantic model (fields, types, one-line meanings).

Ditto-ready rules (docs/dataset.md section 3): string `_id`s duplicated as a top-level id field,
maps (never arrays) for independently updated objects, `deleted` on every document (soft
deletes), ISO-8601 UTC timestamps of one fixed width, money rounded to cents, integer stock.
The builders that write these shapes are in `model.builders`; the collection facts in `model.collections`.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from zava_core.model.ids import SKU_PATTERN

TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"
_TIMESTAMP_RE = re.compile(TIMESTAMP_PATTERN)
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def _cents(value: float) -> float:
    if round(value, 2) != value:
        raise ValueError("money must be rounded to cents")
    return value


Timestamp = Annotated[str, Field(pattern=TIMESTAMP_PATTERN, description="ISO-8601 UTC, e.g. 2024-12-05T14:22:00Z")]
Money = Annotated[float, AfterValidator(_cents)]
DocId = Annotated[str, Field(min_length=1, max_length=64)]


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: DocId = Field(alias="_id", description="Document id (a string; equal to the id field)")
    deleted: bool = Field(False, description="Soft delete flag; every query filters deleted: false")


class StoreLocation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: str
    city: str
    state: str
    postal_code: str
    latitude: float
    longitude: float


class Store(_Document):
    store_id: DocId = Field(description="Store id, e.g. store_seattle")
    store_name: str = Field(description="Full name, e.g. Zava Retail Seattle")
    short_name: str = Field(description="Short name, e.g. Seattle")
    is_online: bool = Field(description="True for the online store")
    location: StoreLocation = Field(description="Map: address, city, state, postal_code, latitude, longitude")
    customer_weight: int = Field(description="Weight for drawing a customer's home store")
    order_frequency_multiplier: float
    order_value_multiplier: float
    manager_name: str = Field(description="The store manager")
    updated_at: Timestamp


class Category(_Document):
    category_id: DocId = Field(description="Category id, e.g. cat_power_tools")
    category_name: str = Field(description="Upper-case name, e.g. POWER TOOLS")
    category_code: str = Field(description="Two-letter code that starts every SKU of the category")
    seasonal_multipliers: dict[str, float] = Field(description="Map jan..dec of relative monthly demand")
    updated_at: Timestamp


class ProductType(_Document):
    type_id: DocId = Field(description="Product type id, e.g. ptype_drills")
    type_name: str = Field(description="Upper-case name, e.g. DRILLS")
    type_code: str = Field(description="Two-letter code, SKU characters 3-4")
    category_id: DocId
    category_name: str
    updated_at: Timestamp


class Product(_Document):
    product_id: DocId = Field(description="Product id, prod_ + SKU")
    sku: str = Field(pattern=SKU_PATTERN, description="Category code + type code + 6 digits")
    product_name: str
    description: str
    category_id: DocId
    category_name: str
    type_id: DocId
    type_name: str
    cost: Money = Field(description="Unit cost to the store, USD")
    base_price: Money = Field(description="Selling price, USD (cost / 0.67)")
    gross_margin_percent: float = Field(description="(base_price - cost) / base_price x 100")
    specifications: dict[str, str | int | float | bool] = Field(description="Map of product specifications")
    created_at: Timestamp
    updated_at: Timestamp


class ProductEmbedding(_Document):
    product_id: DocId
    sku: str
    backend: Literal["static", "onnx-minilm", "openai", "azure-openai"]
    model: str = Field(description="Embedding model id; vectors of different models never mix")
    dimensions: int
    embedding: list[float] = Field(description="L2-normalised vector (internal; not synced to devices)")
    text: str = Field(description="The text embedded: '{name}. {description}'")
    created_at: Timestamp


class Customer(_Document):
    customer_id: DocId = Field(description="Customer id, e.g. cust_000001")
    first_name: str
    last_name: str
    first_name_lower: str = Field(description="Lower-case first name (indexed prefix search)")
    last_name_lower: str = Field(description="Lower-case last name (indexed prefix search)")
    email: str
    phone: str = Field(description="(XXX) XXX-XXXX")
    primary_store_id: DocId = Field(description="Home store")
    stores_shopped: dict[str, Timestamp] = Field(
        description="Map store_id -> first order date there, kept while an order there stands (a cancel or a full "
        "return that leaves none removes the store); a store manager sees customers whose home store it is or "
        "who have a standing order there"
    )
    created_at: Timestamp
    updated_at: Timestamp


class InventoryLocation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    aisle: str
    shelf: str
    bin: str


class Inventory(_Document):
    inventory_id: DocId = Field(description="UUID, equal to _id")
    store_id: DocId
    product_id: DocId
    sku: str
    category_id: DocId
    stock_level: int = Field(ge=0, description="Units on hand (integer, never negative)")
    location: InventoryLocation = Field(description="Map: aisle, shelf, bin")
    last_counted: Timestamp = Field(description="When the stock was last audited")
    updated_at: Timestamp


OrderStatus = Literal["processing", "shipped", "delivered", "completed", "returned", "cancelled"]
Sku = Annotated[str, Field(pattern=SKU_PATTERN, description="Category code + type code + 6 digits")]


class Order(_Document):
    order_id: DocId = Field(description="Order id, e.g. ord_00000001")
    customer_id: DocId
    customer_name: str = Field(description="Denormalized for offline display")
    store_id: DocId
    store_name: str = Field(description="Denormalized for offline display")
    order_date: Timestamp
    status: OrderStatus = Field(description="completed (in store), processing/shipped/delivered (online), returned "
                                "(seeded history), cancelled (cancel_order: a soft state, the documents stay)")
    item_count: int = Field(description="Number of lines")
    subtotal: Money = Field(description="Sum of unit_price x quantity")
    discount_total: Money
    total: Money = Field(description="subtotal - discount_total")
    idempotency_key: str | None = Field(None, description="Only on orders made by create_order (absent otherwise)")
    returned_quantities: dict[Sku, Annotated[int, Field(ge=1)]] | None = Field(
        None, description="Map SKU -> units returned so far (return_items; absent until the first return). A map, "
        "so returns of different lines on two devices both count")
    cancelled_at: Timestamp | None = Field(None, description="When cancel_order cancelled it (absent otherwise)")
    cancel_reason: str | None = Field(None, description="Why it was cancelled (absent otherwise)")
    cancel_count: int | None = Field(None, ge=1, description="How many cancels were made (a COUNTER: two devices "
                                     "cancelling apart make it 2, a conflict the server records)")
    created_at: Timestamp
    updated_at: Timestamp


class OrderItem(_Document):
    order_item_id: DocId = Field(description="UUID, equal to _id")
    order_id: DocId
    store_id: DocId = Field(description="Carried so a device can subscribe per store without a join")
    customer_id: DocId
    order_date: Timestamp = Field(description="The order's date, carried for per-period queries")
    product_id: DocId
    sku: str
    product_name: str
    category_id: DocId
    type_id: DocId
    quantity: int = Field(ge=1)
    unit_price: Money
    unit_cost: Money = Field(description="The product's cost at sale time (for gross margin)")
    discount_percent: int = Field(description="0, 5, 10, 15, 20 or 25")
    discount_amount: Money
    total_amount: Money = Field(description="unit_price x quantity - discount_amount")
    created_at: Timestamp


MovementKind = Literal["cancel", "return", "transfer", "receipt", "correction"]


class StockMovement(_Document):
    movement_id: DocId = Field(description="UUID, equal to _id")
    kind: MovementKind = Field(description="cancel/return (units back from an order), transfer (store to store), "
                               "receipt (a supplier delivery), correction (a sync conflict resolved)")
    store_id: DocId = Field(description="The store whose stock the operation started from (a transfer's source)")
    to_store_id: DocId | None = Field(None, description="A transfer's destination (absent otherwise)")
    order_id: DocId | None = Field(None, description="The order cancelled or returned against (absent otherwise)")
    lines: dict[Sku, int] = Field(description="Map SKU -> units moved (a correction may take units off: negative)")
    reason: str | None = Field(None, description="The caller's note (cancel, return)")
    reference: str | None = Field(None, description="A receipt's delivery reference, or a correction's conflict id")
    idempotency_key: str = Field(description="Unique: the same key again replays this movement")
    created_at: Timestamp


SynonymMappingType = Literal["equivalent", "explicit"]
HEAD_OFFICE_STORE_KEY = "head_office"  # search_misses.store_id of a head-office caller's searches
SEARCH_MISS_QUERY_MAX_CHARS = 200


def _phrases(values: list[str]) -> list[str]:
    cleaned = [" ".join(str(v).split()) for v in values]
    if any(not v for v in cleaned):
        raise ValueError("a synonym or input must not be blank")
    return cleaned


Phrases = Annotated[list[str], Field(min_length=1, max_length=100), AfterValidator(_phrases)]


class SynonymMapping(BaseModel):
    """One document of a synonym source collection in Atlas Search's format (mappingType, input, synonyms).

    Not a `_Document`: Atlas Search reads every document of the source collection and ignores unknown fields,
    so a soft-delete flag would be honoured in memory and ignored on Atlas. A mapping is removed by deleting it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: DocId = Field(alias="_id", description="syn_<type>_<n> for the curated mappings; any id for an operator's")
    mappingType: SynonymMappingType = Field(  # Atlas Search spells it so
        description="equivalent: the synonyms stand for each other; explicit: each input also searches the synonyms")
    input: Phrases | None = Field(None, description="explicit only: the words shoppers use (e.g. 'running toilet')")
    synonyms: Phrases = Field(description="equivalent: interchangeable names; explicit: what an input also searches")
    product_type: str | None = Field(None, description="The product type a curated mapping was written for")
    source: Literal["catalog", "operator"] = Field("operator", description="catalog: seeded from "
                                                   "seeding/catalog/synonyms.json; operator: added by hand")
    updated_at: Timestamp | None = None

    @model_validator(mode="after")
    def _explicit_needs_input(self) -> SynonymMapping:
        if self.mappingType == "explicit" and not self.input:
            raise ValueError("an explicit mapping needs input (the phrases that trigger its synonyms)")
        if self.mappingType == "equivalent" and len(self.synonyms) < 2:
            raise ValueError("an equivalent mapping needs at least two synonyms")
        return self


class SearchMiss(_Document):
    """A shopper query that search could not answer well, counted per store (search_misses)."""

    store_id: DocId = Field(description=f"The store searched from ('{HEAD_OFFICE_STORE_KEY}' for head office)")
    query: str = Field(max_length=SEARCH_MISS_QUERY_MAX_CHARS, description="The query, lower-cased with spaces "
                       "collapsed (cut to its first 200 characters)")
    count: int = Field(ge=1, description="Times asked without a good answer")
    no_results: int = Field(ge=0, description="Of those, times nothing at all was found")
    suggested_types: list[str] = Field(description="The nearest product types offered the last time")
    first_at: Timestamp
    last_at: Timestamp


TillMatch = Literal["email", "phone"]


class TillLookup(_Document):
    lookup_id: DocId = Field(description="UUID, equal to _id")
    store_id: DocId = Field(description="The store whose manager looked the customer up")
    caller: str = Field(max_length=200, description="Who asked: the identity provider's subject, or the identity "
                        "(store:seattle) of a token or a launch")
    customer_id: DocId | None = Field(None, description="The other store's customer found (absent: no customer had "
                                      "that e-mail or phone)")
    matched_by: TillMatch = Field(description="What the customer handed over (never its value: no contact details "
                                  "are kept here)")
    at: Timestamp


class SalesFigures(BaseModel):
    model_config = ConfigDict(extra="forbid")
    revenue: float = Field(description="Sum of line totals after discounts, USD")
    gross: float = Field(description="Sum of unit_price x quantity, USD")
    discount: float
    cost: float = Field(description="Sum of unit_cost x quantity, USD")
    units: int
    lines: int
    orders: int = Field(description="Orders (for a category: orders with a line in it)")


class SalesMonthly(_Document):
    store_id: DocId
    month: str = Field(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM")
    year: int
    totals: SalesFigures
    categories: dict[str, SalesFigures] = Field(description="Map category_id -> figures")
    products: dict[str, SalesFigures] = Field(description="Map product_id -> figures")
    updated_at: Timestamp


class SalesDaily(SalesMonthly):
    """The same cell for one day (`sales_daily`): ranges that start or end inside a month add days up."""

    day: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD")


class FoldedLine(BaseModel):
    """An order line as the rollups hold it (net of returns): what a later fold takes back out."""

    model_config = ConfigDict(extra="forbid")
    order_item_id: DocId
    order_id: DocId
    store_id: DocId
    order_date: Timestamp
    category_id: DocId
    product_id: DocId
    sku: str
    quantity: int
    unit_price: float
    unit_cost: float
    discount_percent: int
    discount_amount: float
    total_amount: float


class SalesFold(_Document):
    order_id: DocId = Field(description="The order whose contribution the rollups hold")
    store_id: DocId
    applied: list[FoldedLine] = Field(description="The order's net lines as the rollups hold them (none: cancelled)")
    version: int = Field(ge=1, description="Raised by every fold of the order: the guard of the next one")
    updated_at: Timestamp


ConflictKind = Literal["double_cancel", "over_return", "negative_stock", "unknown_sku"]


class SyncConflict(_Document):
    conflict_id: DocId = Field(description="kind|order or store|sku: the same conflict found twice is one document")
    kind: ConflictKind = Field(description="double_cancel (two devices cancelled one order: its units restocked "
                               "twice), over_return (more units returned than bought), negative_stock (offline "
                               "sales below zero), unknown_sku (an order line for a product the catalog lacks)")
    store_id: DocId
    order_id: DocId | None = None
    sku: str | None = None
    found_at: Timestamp
    what: str = Field(description="What happened, in one sentence")
    correction: dict[str, int] = Field(description="Map SKU -> units to put on (positive) or take off (negative) "
                                       "the store's stock when it is resolved (empty: nothing to move)")
    suggestion: str = Field(description="What resolving it does, or what else to do")
    status: Literal["open", "resolved"]
    resolved_at: Timestamp | None = None
    resolved_by: str | None = None
    updated_at: Timestamp


def is_timestamp(value: object) -> bool:
    return isinstance(value, str) and bool(_TIMESTAMP_RE.match(value))
