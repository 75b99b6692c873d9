"""`python -m bench scale-model` builds each read model with its own loader over copies of a source: a loader that
changes how it reads (as `Handle.scan` did) must still load here, and the copies must be what the models answer."""

from __future__ import annotations

from bench.scale_model import SOURCE_STORES, Copies, _build

STORES = [f"store_{name}" for name in ("a", "b", "c", "d", "e", "f", "g", "h")]
assert len(STORES) == SOURCE_STORES


def tiny_source() -> dict:
    """One customer with one two-line order, one product stocked everywhere. Line and inventory ids are UUID-like:
    a copy rewrites their last six characters."""
    customer = {"_id": "cust_000001", "first_name": "Ann", "last_name": "Lee", "first_name_lower": "ann",
                "last_name_lower": "lee", "email": "ann.lee@example.com", "phone": "(206) 555-0100",
                "primary_store_id": "store_a", "stores_shopped": {"store_a": "2024-01-02T10:00:00Z"}, "deleted": False}
    order = {"_id": "ord_000001", "order_id": "ord_000001", "customer_id": "cust_000001", "customer_name": "Ann Lee",
             "store_id": "store_a", "store_name": "A", "order_date": "2024-01-02T10:00:00Z", "status": "delivered",
             "item_count": 3, "subtotal": 7.5, "discount_total": 0.0, "total": 7.5, "deleted": False}
    lines = [{"_id": f"line-{n:04d}-0000-000000", "order_item_id": f"line-{n}", "order_id": "ord_000001",
              "sku": f"SKU{n}", "product_name": f"product {n}", "quantity": n, "unit_price": 2.5,
              "discount_percent": 0, "total_amount": 2.5 * n, "deleted": False} for n in (1, 2)]
    inventory = [{"_id": f"inv-{i:04d}-0000-000000", "inventory_id": f"inv-{i}", "store_id": store,
                  "product_id": "prod_1", "sku": "SKU1", "stock_level": 5, "deleted": False}
                 for i, store in enumerate(STORES)]
    return {"stores": STORES, "customers": [customer], "orders": [order], "lines": lines, "inventory": inventory}


def test_every_read_model_loads_the_copies_of_sixteen_stores() -> None:
    copies = Copies(tiny_source(), 16)
    stock, extra = _build("stock", copies)
    assert extra["rows"] == 16 and {row["store_id"] for row in stock._by_id.values()} == set(copies.store_ids())
    directory, extra = _build("customers", copies)
    assert extra["rows"] == 2
    second = directory.get("cust_0000002")  # copy 1 of cust_000001, homed at store 8 + 0
    assert second["email"] == "ann.lee.1@example.com" and second["stores_shopped"] == {
        "store_0008": "2024-01-02T10:00:00Z"}
    book, extra = _build("orders", copies)
    assert (extra["rows"], extra["lines"]) == (2, 4)
    [(header, lines)] = book.customer_orders("cust_0000002", None, 10)
    assert header["order_id"] == "ord_00000002" and header["store_id"] == "store_0008"
    assert [(line["sku"], line["quantity"]) for line in lines] == [("SKU1", 1), ("SKU2", 2)]
