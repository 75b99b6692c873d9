"""Generate the Zava DIY documents: deterministic, in bulk, streamed in batches.

Pure CPU work with no database: the same catalog, scale, seed and as-of date give the same
documents byte for byte. Order headers are planned first (small tuples sorted by date so ids
follow time); their lines are then generated chunk by chunk, each chunk with its own random
stream, so a chunk can be regenerated alone (seeding resumes without duplicates) and memory stays
flat at any scale.
"""

from __future__ import annotations

import bisect
import calendar
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property
from itertools import accumulate

from faker.providers.person.en_US import Provider as NameProvider

from seeding import figures as ref
from seeding.catalog_loader import Catalog, CatalogProduct
from zava_core.infra.timeutil import ISO_FORMAT
from zava_core.model import (
    MONTHS,
    category_document,
    customer_display_name,
    customer_document,
    ids,
    inventory_document,
    order_header,
    order_line,
    product_document,
    product_type_document,
    seeded_order_id,
    store_document,
)

ORDER_CHUNK = 2_000
CUSTOMER_BATCH = 5_000
REFERENCE_TIMESTAMP = "2019-12-01T00:00:00Z"
WA_AREA_CODES = ("206", "253", "360", "425", "509")


@dataclass(frozen=True)
class OrderPlan:
    """An order before its lines: when, who, where, and the category it leans to."""

    order_date: str
    customer: int
    store: int
    category: int


@dataclass(frozen=True)
class CustomerPlan:
    first_name: str
    last_name: str
    home_store: int
    phone: str


def _uuid4(rng: random.Random) -> str:
    """A version-4 UUID string drawn from `rng` (so it is reproducible from the seed)."""
    bits = (rng.getrandbits(128) & ~(0xF000 << 64) | (0x4000 << 64)) & ~(0xC000 << 48) | (0x8000 << 48)
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class _Weighted:
    """Draw from a fixed discrete distribution with one `random()` call (random.choices is slow in loops)."""

    def __init__(self, values: tuple | list, weights: tuple | list) -> None:
        self.values = list(values)
        self.cumulative = list(accumulate(weights))
        self.total = self.cumulative[-1]

    def draw(self, rng: random.Random):
        return self.values[bisect.bisect_right(self.cumulative, rng.random() * self.total)]


class Generator:
    def __init__(self, catalog: Catalog, *, scale: str, seed: int, as_of: date) -> None:
        if scale not in ref.SCALES:
            raise ValueError(f"unknown scale {scale!r}: use one of {', '.join(ref.SCALES)}")
        self.catalog = catalog
        self.scale = scale
        self.customer_count = ref.SCALES[scale]
        self.seed = seed
        self.as_of = as_of
        self.stores = ref.STORES
        self._by_category: list[list[CatalogProduct]] = [
            [p for p in catalog.products if p.category is c] for c in catalog.categories
        ]
        self._price = {p.sku: ref.price_from_cost(p.cost) for p in catalog.products}
        # What an order line copies from its product, keyed as in a products document.
        self._line_facts = {p.sku: {"product_id": p.product_id, "sku": p.sku, "product_name": p.name,
                                    "category_id": p.category.category_id, "type_id": p.type.type_id,
                                    "cost": p.cost} for p in catalog.products}

    @property
    def as_of_instant(self) -> str:
        """The as-of day's first instant: the stamp of what seeding writes besides the dated documents."""
        return f"{self.as_of.isoformat()}T00:00:00Z"

    def _rng(self, *parts: object) -> random.Random:
        return random.Random(":".join(str(p) for p in (self.seed, *parts)))

    # --- reference collections -----------------------------------------------------------------

    def store_documents(self) -> list[dict]:
        return [
            store_document(
                store_id=ids.store_id(s.key), store_name=s.name, short_name=s.key.title(), is_online=s.is_online,
                location={"address": s.address, "city": s.city, "state": "WA", "postal_code": s.postal_code,
                          "latitude": s.latitude, "longitude": s.longitude},
                customer_weight=s.customer_weight, order_frequency_multiplier=s.order_frequency,
                order_value_multiplier=s.order_value, manager_name=s.manager_name, updated_at=REFERENCE_TIMESTAMP)
            for s in self.stores
        ]

    def category_documents(self) -> list[dict]:
        return [category_document(category_id=c.category_id, category_name=c.name, category_code=c.code,
                                  seasonal_multipliers=c.seasonal_multipliers, updated_at=REFERENCE_TIMESTAMP)
                for c in self.catalog.categories]

    def product_type_documents(self) -> list[dict]:
        return [product_type_document(type_id=t.type_id, type_name=t.name, type_code=t.code,
                                      category_id=c.category_id, category_name=c.name, updated_at=REFERENCE_TIMESTAMP)
                for c in self.catalog.categories for t in c.types]

    def product_documents(self) -> list[dict]:
        return [product_document(
            product_id=p.product_id, sku=p.sku, product_name=p.name, description=p.description,
            category_id=p.category.category_id, category_name=p.category.name, type_id=p.type.type_id,
            type_name=p.type.name, cost=p.cost, base_price=self._price[p.sku], specifications=p.specifications,
            created_at=REFERENCE_TIMESTAMP) for p in self.catalog.products]

    # --- customers and order plans -------------------------------------------------------------

    @cached_property
    def _months(self) -> list[tuple[int, int, int, float]]:
        """(year, month, days available, volume weight) from the first year up to the as-of date."""
        months = []
        overall = [sum(c.seasonal_multipliers[m] for c in self.catalog.categories) / len(self.catalog.categories)
                   for m in MONTHS]
        for year in range(ref.FIRST_YEAR, self.as_of.year + 1):
            for month in range(1, 13):
                days_in = calendar.monthrange(year, month)[1]
                if (year, month) < (self.as_of.year, self.as_of.month):
                    days = days_in
                elif (year, month) == (self.as_of.year, self.as_of.month):
                    days = self.as_of.day - 1  # orders end before the as-of day starts
                else:
                    break
                if days > 0:
                    months.append((year, month, days, ref.year_weight(year) * overall[month - 1] * days / days_in))
        if not months:
            raise ValueError(f"as-of date {self.as_of} leaves no days for orders after {ref.FIRST_YEAR}-01-01")
        return months

    @cached_property
    def customer_plans(self) -> list[CustomerPlan]:
        # Faker's US name frequencies, drawn with our own random stream: faster than calling Faker
        # per name, and independent of Faker's internal draw order across versions.
        rng = self._rng("customers")
        first = _Weighted(list(NameProvider.first_names), list(NameProvider.first_names.values()))
        last = _Weighted(list(NameProvider.last_names), list(NameProvider.last_names.values()))
        home = _Weighted(range(len(self.stores)), [s.customer_weight for s in self.stores])
        plans = []
        for _ in range(self.customer_count):
            phone = f"({rng.choice(WA_AREA_CODES)}) {rng.randint(200, 999)}-{rng.randint(0, 9999):04d}"
            plans.append(CustomerPlan(first.draw(rng), last.draw(rng), home.draw(rng), phone))
        return plans

    @cached_property
    def order_plans(self) -> list[OrderPlan]:
        rng = self._rng("orders")
        months = self._months
        month_cum = list(accumulate(m[3] for m in months))
        store_cum = list(accumulate(s.customer_weight for s in self.stores))
        categories = self.catalog.categories
        seasonal_cum = [
            list(accumulate(c.seasonal_multipliers[MONTHS[m - 1]] for c in categories)) for m in range(1, 13)
        ]
        orders_per_customer = _Weighted(*ref.ORDERS_PER_CUSTOMER)
        plans: list[OrderPlan] = []
        for index, customer in enumerate(self.customer_plans):
            home = self.stores[customer.home_store]
            base = orders_per_customer.draw(rng)
            n_orders = max(1, int(base * home.order_frequency))  # truncated, as the reference does
            for month_index in rng.choices(range(len(months)), cum_weights=month_cum, k=n_orders):
                year, month, days, _ = months[month_index]
                if rng.random() < ref.HOME_STORE_SHARE:
                    store = customer.home_store
                else:
                    store = rng.choices(range(len(self.stores)), cum_weights=store_cum)[0]
                online = self.stores[store].is_online
                hour = rng.randint(0, 23) if online else rng.randint(8, 20)
                moment = datetime(year, month, rng.randint(1, days), hour, rng.randint(0, 59), rng.randint(0, 59))
                if rng.random() < ref.SEASONAL_CATEGORY_PICK:
                    category = rng.choices(range(len(categories)), cum_weights=seasonal_cum[month - 1])[0]
                else:
                    category = rng.randrange(len(categories))
                plans.append(OrderPlan(moment.strftime(ISO_FORMAT), index, store, category))
        plans.sort(key=lambda p: (p.order_date, p.customer))
        return plans

    def customer_id(self, index: int) -> str:
        return ids.customer_id(index + 1)

    def customer_batches(self, batch_size: int = CUSTOMER_BATCH) -> Iterator[list[dict]]:
        first_seen: list[dict[str, str]] = [{} for _ in self.customer_plans]
        for plan in self.order_plans:  # sorted by date, so the first write per store is the first order
            first_seen[plan.customer].setdefault(ids.store_id(self.stores[plan.store].key), plan.order_date)
        rng = self._rng("customer-created")
        batch: list[dict] = []
        for index, plan in enumerate(self.customer_plans):
            shopped = first_seen[index]
            first_order = min(shopped.values()) if shopped else self.as_of_instant
            created = datetime.strptime(first_order, ISO_FORMAT) - timedelta(
                days=rng.randint(0, 90), seconds=rng.randint(0, 86_399))
            created_at = created.strftime(ISO_FORMAT)
            local = re.sub(r"[^a-z]", "", plan.first_name.lower()) + "." + re.sub(r"[^a-z]", "", plan.last_name.lower())
            batch.append(customer_document(
                customer_id=self.customer_id(index), first_name=plan.first_name, last_name=plan.last_name,
                email=f"{local}.{index + 1}@example.com", phone=plan.phone,
                primary_store_id=ids.store_id(self.stores[plan.home_store].key), stores_shopped=shopped,
                created_at=created_at))
            if len(batch) >= batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    # --- orders and their lines ----------------------------------------------------------------

    @property
    def order_chunk_count(self) -> int:
        return -(-len(self.order_plans) // ORDER_CHUNK)

    def order_id(self, index: int) -> str:
        return seeded_order_id(index)

    def order_chunks(self, start_chunk: int = 0) -> Iterator[tuple[int, list[dict], list[dict]]]:
        """Yield (chunk number, order headers, order lines), ORDER_CHUNK orders at a time."""
        for chunk in range(start_chunk, self.order_chunk_count):
            yield chunk, *self._order_chunk(chunk)

    def _order_chunk(self, chunk: int) -> tuple[list[dict], list[dict]]:
        rng = self._rng("order-lines", chunk)
        products = self.catalog.products
        items = _Weighted(*ref.ITEMS_PER_ORDER)
        quantities = _Weighted(*ref.QUANTITY_PER_LINE)
        as_of = datetime.combine(self.as_of, datetime.min.time())
        processing_after = (as_of - timedelta(days=2)).strftime(ISO_FORMAT)
        shipped_after = (as_of - timedelta(days=7)).strftime(ISO_FORMAT)
        orders: list[dict] = []
        lines: list[dict] = []
        start = chunk * ORDER_CHUNK
        for index in range(start, min(start + ORDER_CHUNK, len(self.order_plans))):
            plan = self.order_plans[index]
            customer = self.customer_plans[plan.customer]
            store = self.stores[plan.store]
            oid = self.order_id(index)
            cid = self.customer_id(plan.customer)
            sid = ids.store_id(store.key)
            in_category = self._by_category[plan.category]
            n_lines = items.draw(rng)
            chosen: list[CatalogProduct] = []
            while len(chosen) < n_lines:
                pool = in_category if rng.random() < ref.SAME_CATEGORY_LINE else products
                product = pool[rng.randrange(len(pool))]
                if product not in chosen:
                    chosen.append(product)
            order_lines = []
            for product in chosen:
                quantity = quantities.draw(rng)
                unit_price = round(self._price[product.sku] * rng.uniform(*ref.PRICE_VARIATION), 2)
                percent = rng.choice(ref.DISCOUNT_PERCENTS) if rng.random() < ref.DISCOUNT_SHARE else 0
                order_lines.append(order_line(
                    line_id=_uuid4(rng), order_id=oid, store_id=sid, customer_id=cid, order_date=plan.order_date,
                    product=self._line_facts[product.sku], quantity=quantity, unit_price=unit_price,
                    discount_percent=percent))
            lines.extend(order_lines)
            orders.append(order_header(
                order_id=oid, customer_id=cid,
                customer_name=customer_display_name(customer.first_name, customer.last_name),
                store_id=sid, store_name=store.name, order_date=plan.order_date,
                status=_status(store.is_online, plan.order_date, processing_after, shipped_after),
                lines=order_lines))
        return orders, lines

    def all_documents(self) -> dict[str, list[dict]]:
        """Every generated document by collection, in memory (the embeddings are not generated here)."""
        docs: dict[str, list[dict]] = {
            "stores": self.store_documents(), "categories": self.category_documents(),
            "product_types": self.product_type_documents(), "products": self.product_documents(),
            "customers": [c for batch in self.customer_batches() for c in batch],
            "inventory": self.inventory_documents(), "orders": [], "order_items": [],
        }
        for _, orders, items in self.order_chunks():
            docs["orders"] += orders
            docs["order_items"] += items
        return docs

    # --- inventory -----------------------------------------------------------------------------

    def inventory_documents(self) -> list[dict]:
        docs = []
        low_lo, low_hi = ref.LOW_STOCK_RANGE
        for s_index, store in enumerate(self.stores):
            rng = self._rng("inventory", store.key)
            bins: dict[str, int] = {}
            for c_index, category in enumerate(self.catalog.categories):
                for t_index, ptype in enumerate(category.types):
                    for product in self._by_category[c_index]:
                        if product.type is not ptype:
                            continue
                        if rng.random() < ref.LOW_STOCK_SHARE:
                            stock = rng.randint(low_lo, low_hi)
                        else:
                            stock = max(1, int(rng.randint(*ref.STOCK_BASE) * store.customer_weight
                                               * category.mean_seasonal_multiplier * rng.uniform(*ref.STOCK_NOISE)))
                        aisle = f"{'W' if store.is_online else 'A'}{c_index * 2 + 1 + t_index % 2:02d}"
                        shelf = f"S{t_index // 2 % 6 + 1}"
                        bins[aisle + shelf] = bins.get(aisle + shelf, 0) + 1
                        counted = datetime.combine(self.as_of, datetime.min.time()) - timedelta(
                            days=rng.randint(1, 120), hours=rng.randint(6, 9) - 24, minutes=rng.randint(0, 59))
                        docs.append(inventory_document(
                            inventory_id=_uuid4(rng), store_id=ids.store_id(store.key),
                            product_id=product.product_id, sku=product.sku, category_id=category.category_id,
                            stock_level=stock,
                            location={"aisle": aisle, "shelf": shelf, "bin": f"B{bins[aisle + shelf]:02d}"},
                            last_counted=counted.strftime(ISO_FORMAT)))
            del s_index
        return docs


def _status(online: bool, order_date: str, processing_after: str, shipped_after: str) -> str:
    # Fixed-width ISO timestamps compare as strings.
    if not online:
        return "completed"
    if order_date >= processing_after:
        return "processing"
    if order_date >= shipped_after:
        return "shipped"
    return "delivered"
