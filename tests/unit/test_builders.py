"""The document builders: what create_order and the device-side DQL write is what the model defines,
and the totals add up line by line (computed here from the quantities and prices, not by the builder)."""

from __future__ import annotations

import re

import pytest

from zava_core.model import (
    Order,
    OrderItem,
    ProductEmbedding,
    embedding_document,
    new_order_id,
    new_order_status,
    order_header,
    order_line,
    seeded_order_id,
)
from zava_ditto import dql

PRODUCT = {"_id": "prod_x", "product_id": "prod_x", "sku": "PLMB000123", "product_name": "Toilet Flapper",
           "category_id": "cat_plumbing", "type_id": "type_toilet_parts", "cost": 3.35, "base_price": 5.0}
OTHER = {**PRODUCT, "_id": "prod_y", "product_id": "prod_y", "sku": "PLMB000124", "base_price": 19.99, "cost": 13.39}
NOW = "2026-11-02T10:00:00Z"


def lines_for(*quantities_and_discounts: tuple[dict, int, int]) -> list[dict]:
    return [order_line(line_id=f"line-{i}", order_id="ord_a", store_id="store_seattle", customer_id="cust_1",
                       order_date=NOW, product=p, quantity=q, unit_price=p["base_price"], discount_percent=d)
            for i, (p, q, d) in enumerate(quantities_and_discounts)]


def test_an_order_and_its_lines_validate_strictly_against_the_model() -> None:
    lines = lines_for((PRODUCT, 3, 0), (OTHER, 2, 15))
    header = order_header(order_id="ord_a", customer_id="cust_1", customer_name="Ada Lovelace",
                          store_id="store_seattle", store_name="Zava Retail Seattle", order_date=NOW,
                          status=new_order_status(False), lines=lines, idempotency_key="key-12345678")
    Order.model_validate(header, strict=True, by_alias=True)
    for line in lines:
        OrderItem.model_validate(line, strict=True, by_alias=True)


def test_totals_are_the_cents_of_each_line_summed() -> None:
    lines = lines_for((PRODUCT, 3, 0), (OTHER, 2, 15))
    header = order_header(order_id="ord_a", customer_id="c", customer_name="A B", store_id="s", store_name="S",
                          order_date=NOW, status="completed", lines=lines)
    # 3 x 5.00 = 15.00; 2 x 19.99 = 39.98 less 15 % (5.997 -> 6.00) = 33.98
    assert [ln["total_amount"] for ln in lines] == [15.0, 33.98]
    assert [ln["discount_amount"] for ln in lines] == [0.0, 6.0]
    assert (header["subtotal"], header["discount_total"], header["total"]) == (54.98, 6.0, 48.98)
    assert header["item_count"] == 2


def test_status_follows_the_channel() -> None:
    assert new_order_status(is_online=True) == "processing"
    assert new_order_status(is_online=False) == "completed"


def test_fresh_order_ids_are_random_and_never_look_like_seeded_ones() -> None:
    fresh = {new_order_id() for _ in range(1000)}
    assert len(fresh) == 1000
    assert all(re.fullmatch(r"ord_[0-9a-f]{16}", oid) for oid in fresh)
    assert seeded_order_id(0) == "ord_00000001"
    assert not any(re.fullmatch(r"ord_\d{8}", oid) for oid in fresh)


def test_the_device_side_order_is_the_server_shape() -> None:
    store = {"store_id": "store_online", "store_name": "Zava Retail Online", "is_online": True}
    customer = {"customer_id": "cust_1", "first_name": "Ada", "last_name": "Lovelace"}
    order, items = dql.order_documents(new_order_id(), customer, store, [(PRODUCT, 2), (OTHER, 1)], NOW)
    Order.model_validate(order, strict=True, by_alias=True)
    for item in items:
        OrderItem.model_validate(item, strict=True, by_alias=True)
    assert order["status"] == "processing" and order["total"] == round(2 * 5.0 + 19.99, 2)
    with pytest.raises(ValueError, match="positive integer"):
        dql.order_documents(new_order_id(), customer, store, [(PRODUCT, 0)], NOW)


def test_an_embedding_document_validates_and_rounds_the_vector() -> None:
    doc = embedding_document(PRODUCT, backend="static", model="static-minilm", dimensions=3,
                             vector=[0.1234567891, -0.5, 1.0], text="Toilet Flapper", created_at=NOW)
    ProductEmbedding.model_validate(doc, strict=True, by_alias=True)
    assert doc["embedding"] == [0.123457, -0.5, 1.0]
    assert doc["_id"] == doc["product_id"] == "prod_x"
