"""The generator: deterministic, model-valid, Ditto-ready documents with consistent orders.

Everything is checked on the `small` scale with a fixed seed and as-of date; expectations come
from docs/dataset.md, the model module (zava_core.model) and the catalog, never from generated output.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import uuid
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import pytest
from pydantic.functional_validators import AfterValidator

from seeding.catalog_loader import load_catalog
from seeding.generate import Generator
from zava_core import model
from zava_core.model import COLLECTIONS, MONTHS, SPECS, TIMESTAMP_PATTERN, documents

ROOT = Path(__file__).resolve().parents[2]
SCALE = "small"
AS_OF = date(2026, 11, 1)
SEED = 777_001
AS_OF_TS = f"{AS_OF.isoformat()}T00:00:00Z"
TIMESTAMP = re.compile(TIMESTAMP_PATTERN)
GENERATED = tuple(spec.name for spec in COLLECTIONS if spec.name != "product_embeddings")

# docs/dataset.md section 1, "Stores": name -> (customer weight, order-frequency, order-value, online).
DATASET_STORES = {
    "Zava Retail Seattle": (30, 3.0, 1.30, False), "Zava Retail Bellevue": (25, 2.6, 1.20, False),
    "Zava Retail Tacoma": (20, 2.4, 1.10, False), "Zava Retail Spokane": (8, 2.0, 1.00, False),
    "Zava Retail Everett": (7, 1.8, 0.95, False), "Zava Retail Redmond": (6, 1.6, 0.90, False),
    "Zava Retail Kirkland": (4, 1.4, 0.85, False), "Zava Retail Online": (30, 3.0, 1.50, True),
}
DATASET_SMALL_CUSTOMERS = 2_000
DISCOUNT_PERCENTS = {0, 5, 10, 15, 20, 25}


# --- helpers (also used by a subprocess: keep them importable) --------------------------------


def canonical(doc: dict) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def collection_hash(docs: list[dict]) -> str:
    digest = hashlib.sha256()
    for doc in docs:
        digest.update(canonical(doc))
        digest.update(b"\n")
    return digest.hexdigest()


def hashes(seed: int, as_of: date = AS_OF) -> dict[str, str]:
    generator = Generator(load_catalog(), scale=SCALE, seed=seed, as_of=as_of)
    return {name: collection_hash(docs) for name, docs in generator.all_documents().items()}


def cents(value: float) -> int:
    return round(value * 100)


def money_fields(doc_model) -> tuple[str, ...]:
    return tuple(
        name for name, info in doc_model.model_fields.items()
        if any(isinstance(m, AfterValidator) and m.func is documents._cents for m in info.metadata)
    )


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def generator(catalog) -> Generator:
    return Generator(catalog, scale=SCALE, seed=SEED, as_of=AS_OF)


@pytest.fixture(scope="module")
def docs(generator: Generator) -> dict[str, list[dict]]:
    return generator.all_documents()


@pytest.fixture(scope="module")
def lines_by_order(docs) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = defaultdict(list)
    for line in docs["order_items"]:
        grouped[line["order_id"]].append(line)
    return grouped


# --- determinism -------------------------------------------------------------------------------


def test_every_collection_but_embeddings_is_generated(docs) -> None:
    assert set(docs) == set(GENERATED)
    assert all(docs[name] for name in GENERATED)


def test_same_inputs_give_identical_documents(catalog, docs) -> None:
    again = Generator(catalog, scale=SCALE, seed=SEED, as_of=AS_OF).all_documents()
    assert {n: collection_hash(d) for n, d in again.items()} == {n: collection_hash(d) for n, d in docs.items()}


def test_identical_across_processes_and_hash_seeds(docs) -> None:
    expected = {name: collection_hash(d) for name, d in docs.items()}
    script = (
        "import json, sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]; import test_generate as t; "
        f"print(json.dumps(t.hashes({SEED})))"
    )
    # Another process with another string-hash seed: set iteration order must not leak into the data.
    hash_seed = "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    result = subprocess.run([sys.executable, "-c", script, str(ROOT), str(Path(__file__).parent)],
                            capture_output=True, text=True, env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == expected


def test_a_different_seed_gives_different_documents(docs) -> None:
    ours = {name: collection_hash(d) for name, d in docs.items()}
    other = hashes(SEED + 1)
    for name in ("customers", "inventory", "orders", "order_items"):
        assert other[name] != ours[name], name
    # The reference collections come from the catalog and docs/dataset.md, not from the seed.
    for name in ("stores", "categories", "product_types", "products"):
        assert other[name] == ours[name], name


def test_unknown_scale_is_refused(catalog) -> None:
    with pytest.raises(ValueError, match="unknown scale"):
        Generator(catalog, scale="huge", seed=SEED, as_of=AS_OF)


# --- the model ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", GENERATED)
def test_every_document_validates_against_its_model(docs, name: str) -> None:
    spec = SPECS[name]
    for doc in docs[name]:
        spec.model.model_validate(doc, strict=True, by_alias=True)


def test_money_fields_are_known_to_the_test() -> None:
    # Guard against the detection below silently finding nothing.
    assert {"subtotal", "discount_total", "total"} <= set(money_fields(model.Order))
    assert "total_amount" in money_fields(model.OrderItem)
    assert "cost" in money_fields(model.Product)


# --- Ditto-ready rules -------------------------------------------------------------------------


@pytest.mark.parametrize("name", GENERATED)
def test_ditto_rules(docs, name: str) -> None:
    spec = SPECS[name]
    assert spec.timestamp_fields, name
    money = money_fields(spec.model)
    ids = set()
    for doc in docs[name]:
        assert isinstance(doc["_id"], str) and doc["_id"], name
        assert doc["_id"] == doc[spec.id_field], (name, doc["_id"])
        ids.add(doc["_id"])
        assert doc["deleted"] is False, (name, doc["_id"])
        for field in spec.timestamp_fields:
            assert isinstance(doc[field], str) and TIMESTAMP.match(doc[field]), (name, field, doc[field])
        for field in spec.map_fields:
            assert isinstance(doc[field], dict), (name, field)
        for field in money:
            value = doc[field]
            assert isinstance(value, int | float) and not isinstance(value, bool), (name, field)
            assert round(value, 2) == value, (name, field, value)
    assert len(ids) == len(docs[name]), f"{name}: duplicate _id"


def test_readable_slug_ids(docs) -> None:
    patterns = {
        "stores": r"store_[a-z]+", "categories": r"cat_[a-z_]+", "product_types": r"ptype_[a-z_]+",
        "products": r"prod_[A-Z]{4}\d{6}", "customers": r"cust_\d{6}", "orders": r"ord_\d{8}",
    }
    for name, pattern in patterns.items():
        for doc in docs[name]:
            assert re.fullmatch(pattern, doc["_id"]), (name, doc["_id"])


@pytest.mark.parametrize("name", ["inventory", "order_items"])
def test_uuid_v4_ids(docs, name: str) -> None:
    for doc in docs[name]:
        parsed = uuid.UUID(doc["_id"])
        assert parsed.version == 4 and str(parsed) == doc["_id"], doc["_id"]


def test_map_fields_hold_the_documented_keys(docs) -> None:
    for doc in docs["categories"]:
        assert tuple(doc["seasonal_multipliers"]) == MONTHS
    for doc in docs["inventory"]:
        assert set(doc["location"]) == {"aisle", "shelf", "bin"}
    for doc in docs["stores"]:
        assert {"city", "state"} <= set(doc["location"])
    for doc in docs["customers"]:
        for store, first in doc["stores_shopped"].items():
            assert store.startswith("store_") and TIMESTAMP.match(first), (doc["_id"], store, first)


def test_stock_levels_are_non_negative_integers(docs) -> None:
    for doc in docs["inventory"]:
        level = doc["stock_level"]
        assert type(level) is int and level >= 0, doc["_id"]


# --- reference collections ---------------------------------------------------------------------


def test_stores_match_dataset(docs) -> None:
    stores = {d["store_name"]: d for d in docs["stores"]}
    assert set(stores) == set(DATASET_STORES)
    for name, (weight, frequency, value, online) in DATASET_STORES.items():
        doc = stores[name]
        assert (doc["customer_weight"], doc["order_frequency_multiplier"], doc["order_value_multiplier"],
                doc["is_online"]) == (weight, frequency, value, online)
        assert doc["location"]["state"] == "WA"


def test_catalog_collections_follow_the_catalog(docs, catalog) -> None:
    assert len(docs["categories"]) == len(catalog.categories)
    assert len(docs["product_types"]) == len(catalog.types)
    assert len(docs["products"]) == len(catalog.products)
    categories = {d["_id"] for d in docs["categories"]}
    types = {d["_id"]: d for d in docs["product_types"]}
    assert all(t["category_id"] in categories for t in types.values())
    by_sku = {p.sku: p for p in catalog.products}
    for doc in docs["products"]:
        product = by_sku[doc["sku"]]
        assert doc["product_name"] == product.name and doc["description"] == product.description
        assert doc["cost"] == product.cost
        assert doc["specifications"] == product.specifications
        assert types[doc["type_id"]]["category_id"] == doc["category_id"]
        # docs/dataset.md: the selling price is cost / 0.67 (a 33 % gross margin).
        assert doc["base_price"] == round(product.cost / 0.67, 2), doc["sku"]
        assert abs(doc["gross_margin_percent"] - 33) < 0.5, doc["sku"]


# --- customers, orders, lines ------------------------------------------------------------------


def test_customer_count_and_contact_formats(docs) -> None:
    customers = docs["customers"]
    assert len(customers) == DATASET_SMALL_CUSTOMERS
    stores = {d["_id"] for d in docs["stores"]}
    for c in customers:
        local = re.sub(r"[^a-z]", "", c["first_name"].lower()) + "." + re.sub(r"[^a-z]", "", c["last_name"].lower())
        number = int(c["customer_id"].removeprefix("cust_"))
        assert c["email"] == f"{local}.{number}@example.com", c["email"]
        assert re.fullmatch(r"\(\d{3}\) \d{3}-\d{4}", c["phone"]), c["phone"]
        assert c["first_name_lower"] == c["first_name"].lower() and c["last_name_lower"] == c["last_name"].lower()
        assert c["primary_store_id"] in stores
    assert len({c["email"] for c in customers}) == len(customers)


def test_no_order_on_or_after_as_of(docs) -> None:
    for order in docs["orders"]:
        assert order["order_date"] < AS_OF_TS, order["_id"]
    for line in docs["order_items"]:
        assert line["order_date"] < AS_OF_TS and line["created_at"] < AS_OF_TS, line["_id"]
    for doc in docs["inventory"]:
        assert doc["last_counted"] < AS_OF_TS, doc["_id"]


def test_as_of_mid_month_cuts_at_the_start_of_that_day(catalog) -> None:
    as_of = date(2024, 3, 15)
    generator = Generator(catalog, scale=SCALE, seed=SEED, as_of=as_of)
    dates = [plan.order_date for plan in generator.order_plans]
    assert max(dates) < "2024-03-15T00:00:00Z"
    assert any(d.startswith("2024-03-") for d in dates), "the days before as-of still get orders"
    assert min(dates) >= "2020-01-01T00:00:00Z"


def test_order_ids_follow_time(docs) -> None:
    orders = docs["orders"]
    assert [o["order_id"] for o in orders] == [f"ord_{i:08d}" for i in range(1, len(orders) + 1)]
    dates = [o["order_date"] for o in orders]
    assert dates == sorted(dates)


def test_order_totals_equal_the_sum_of_their_lines(docs, lines_by_order) -> None:
    assert set(lines_by_order) == {o["order_id"] for o in docs["orders"]}
    for order in docs["orders"]:
        lines = lines_by_order[order["order_id"]]
        gross = sum(cents(line["unit_price"] * line["quantity"]) for line in lines)
        discount = sum(cents(line["discount_amount"]) for line in lines)
        total = sum(cents(line["total_amount"]) for line in lines)
        assert order["item_count"] == len(lines), order["_id"]
        assert cents(order["subtotal"]) == gross, order["_id"]
        assert cents(order["discount_total"]) == discount, order["_id"]
        assert cents(order["total"]) == total, order["_id"]
        assert cents(order["total"]) == cents(order["subtotal"]) - cents(order["discount_total"]), order["_id"]


def test_lines_follow_dataset_rules(docs, lines_by_order) -> None:
    for order_id, lines in lines_by_order.items():
        assert 1 <= len(lines) <= 5, order_id
        assert len({line["product_id"] for line in lines}) == len(lines), f"{order_id}: a product twice"
    for line in docs["order_items"]:
        assert 1 <= line["quantity"] <= 5
        assert line["discount_percent"] in DISCOUNT_PERCENTS
        gross = line["unit_price"] * line["quantity"]
        assert abs(line["discount_amount"] - gross * line["discount_percent"] / 100) <= 0.0051, line["_id"]
        assert cents(line["total_amount"]) == cents(gross) - cents(line["discount_amount"]), line["_id"]


def test_lines_agree_with_their_order_and_product(docs, lines_by_order) -> None:
    products = {p["_id"]: p for p in docs["products"]}
    stores = {s["_id"]: s for s in docs["stores"]}
    customers = {c["_id"]: c for c in docs["customers"]}
    for order in docs["orders"]:
        customer = customers[order["customer_id"]]
        store = stores[order["store_id"]]
        assert order["customer_name"] == f"{customer['first_name']} {customer['last_name']}"
        assert order["store_name"] == store["store_name"]
        multiplier = store["order_value_multiplier"]
        for line in lines_by_order[order["order_id"]]:
            assert (line["store_id"], line["customer_id"], line["order_date"]) == (
                order["store_id"], order["customer_id"], order["order_date"])
            product = products[line["product_id"]]
            assert (line["sku"], line["product_name"], line["category_id"], line["type_id"]) == (
                product["sku"], product["product_name"], product["category_id"], product["type_id"])
            assert line["unit_cost"] == product["cost"]
            # docs/dataset.md: the selling price varied by U(0.8, 1.2), optionally times the store's multiplier.
            ratio = line["unit_price"] / product["base_price"]
            low, high = 0.8 * min(1.0, multiplier), 1.2 * max(1.0, multiplier)
            assert low - 0.01 <= ratio <= high + 0.01, (line["_id"], ratio)


def test_order_status_matches_the_store_kind(docs) -> None:
    online = {s["_id"] for s in docs["stores"] if s["is_online"]}
    for order in docs["orders"]:
        if order["store_id"] in online:
            assert order["status"] in {"processing", "shipped", "delivered"}, order["_id"]
        else:
            assert order["status"] == "completed", order["_id"]


def test_stores_shopped_is_the_first_order_date_per_store(docs) -> None:
    expected: dict[str, dict[str, str]] = defaultdict(dict)
    for order in docs["orders"]:
        first = expected[order["customer_id"]]
        if order["store_id"] not in first or order["order_date"] < first[order["store_id"]]:
            first[order["store_id"]] = order["order_date"]
    for customer in docs["customers"]:
        shopped = customer["stores_shopped"]
        # docs/dataset.md: every customer has at least one order.
        assert shopped, customer["_id"]
        assert shopped == expected[customer["_id"]], customer["_id"]
        assert customer["created_at"] <= min(shopped.values()), customer["_id"]


def test_inventory_has_one_row_per_store_and_product(docs) -> None:
    pairs = Counter((d["store_id"], d["product_id"]) for d in docs["inventory"])
    stores = {s["_id"] for s in docs["stores"]}
    products = {p["_id"]: p for p in docs["products"]}
    assert set(pairs) == {(s, p) for s in stores for p in products}
    assert set(pairs.values()) == {1}
    for doc in docs["inventory"]:
        product = products[doc["product_id"]]
        assert doc["sku"] == product["sku"] and doc["category_id"] == product["category_id"]
