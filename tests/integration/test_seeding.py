"""Seeding against a real server: exact content, model validity, indexes, rollups, resume and safety.

The `seeded` fixture (conftest) seeds the `small` scale once per session; these tests read it and
never write to it. The resume and safety tests seed into their own databases and drop them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo.errors import DuplicateKeyError
from seeded_data import SEEDED_DATABASE, TEST_AS_OF, TEST_SEED, drops_after_use, settings_for

from seeding.catalog_loader import load_catalog
from seeding.generate import Generator
from seeding.pipeline import SeedingRefused, seed_database
from seeding.progress import Reporter
from seeding.verify import collect_checks
from zava_core.analysis.rollups import MEASURES, SALES_MONTHLY
from zava_core.embeddings import get_embedder, product_text
from zava_core.infra import db as zdb
from zava_core.model import COLLECTIONS, META, SPECS, STATE_ID, SYNCED_COLLECTIONS
from zava_core.store import Collections

pytestmark = pytest.mark.integration

GENERATED = tuple(spec.name for spec in COLLECTIONS if spec.name != "product_embeddings")
REFERENCE = ("stores", "categories", "product_types", "products", "inventory", "customers")


# --- helpers -----------------------------------------------------------------------------------


def content_hash(docs: list[dict]) -> str:
    digest = hashlib.sha256()
    for doc in sorted(docs, key=lambda d: d["_id"]):
        digest.update(json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()


async def read_all(db, name: str, projection: dict | None = None) -> list[dict]:
    return [doc async for doc in db.get_collection(name).find({}, projection)]


async def counts(db) -> dict[str, int]:
    return {name: await db.get_collection(name).count_documents({}) for name in GENERATED}


def recompute_rollup(lines: list[dict]) -> dict[str, dict]:
    """sales_monthly from order lines in plain Python: sums per store-month, per category, per product;
    `orders` counts distinct order ids in each scope."""
    sums: dict = defaultdict(lambda: defaultdict(float))
    orders: dict = defaultdict(set)
    for line in lines:
        key = f"{line['store_id']}|{line['order_date'][:7]}"
        values = {
            "revenue": line["total_amount"], "gross": line["unit_price"] * line["quantity"],
            "discount": line["discount_amount"], "cost": line["unit_cost"] * line["quantity"],
            "units": line["quantity"], "lines": 1,
        }
        for scope in ("totals", f"categories.{line['category_id']}", f"products.{line['product_id']}"):
            for measure, value in values.items():
                sums[key][f"{scope}.{measure}"] += value
            orders[key, scope].add(line["order_id"])
    for (key, scope), ids in orders.items():
        sums[key][f"{scope}.orders"] = len(ids)
    return sums


def flatten(doc: dict) -> dict[str, float]:
    flat = {f"totals.{m}": v for m, v in doc["totals"].items()}
    for scope in ("categories", "products"):
        for item, measures in doc[scope].items():
            flat.update({f"{scope}.{item}.{m}": v for m, v in measures.items()})
    return flat


def assert_rollup_matches(rollup_docs: list[dict], lines: list[dict]) -> None:
    expected = recompute_rollup(lines)
    assert {d["_id"] for d in rollup_docs} == set(expected)
    for doc in rollup_docs:
        store_id, month = doc["_id"].split("|")
        assert (doc["store_id"], doc["month"], doc["year"]) == (store_id, month, int(month[:4]))
        actual, want = flatten(doc), expected[doc["_id"]]
        assert set(actual) == set(want), doc["_id"]
        for path, value in want.items():
            assert path.rsplit(".", 1)[1] in MEASURES
            assert round(actual[path] * 100) == round(value * 100), (doc["_id"], path, actual[path], value)


def small_generator(seed: int = TEST_SEED) -> Generator:
    return Generator(load_catalog(), scale="small", seed=seed, as_of=TEST_AS_OF)


@pytest.fixture(scope="module")
def expected_docs() -> dict[str, list[dict]]:
    """The documents the seeded database must hold: regenerated with conftest's parameters."""
    return small_generator().all_documents()


# --- the seeded database -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_counts_equal_the_generator(seeded_db, expected_docs) -> None:
    assert seeded_db.name == SEEDED_DATABASE
    assert await counts(seeded_db) == {name: len(docs) for name, docs in expected_docs.items()}


@pytest.mark.anyio
@pytest.mark.parametrize("name", GENERATED)
async def test_content_equals_the_generated_documents(seeded_db, expected_docs, name: str) -> None:
    stored = await read_all(seeded_db, name)
    assert len(stored) == len(expected_docs[name])
    assert content_hash(stored) == content_hash(expected_docs[name])


@pytest.mark.anyio
async def test_product_embeddings(seeded, seeded_db, expected_docs) -> None:
    embedder = get_embedder(seeded)
    products = {p["_id"]: p for p in expected_docs["products"]}
    stored = await read_all(seeded_db, "product_embeddings")
    assert len(stored) == len(products)
    assert {d["product_id"] for d in stored} == set(products)
    for doc in stored:
        assert doc["_id"] == doc["product_id"]
        assert (doc["backend"], doc["model"], doc["dimensions"]) == (
            embedder.backend, embedder.model, embedder.dimensions)
        assert len(doc["embedding"]) == embedder.dimensions
        assert abs(sum(x * x for x in doc["embedding"]) - 1.0) < 1e-3, "vectors are L2-normalised"
        product = products[doc["product_id"]]
        assert doc["text"] == product_text(product["product_name"], product["description"])
        assert doc["sku"] == product["sku"]


@pytest.mark.anyio
async def test_nothing_seeded_carries_the_wall_clock(seeded_db) -> None:
    """Same seed and as-of date, same documents byte for byte: the embeddings and the rollup are stamped
    from the as-of day (the wall clock would put them after it), and every order ends before it."""
    as_of = f"{TEST_AS_OF.isoformat()}T00:00:00Z"
    stamps = {name: {d.get(field) for d in await read_all(seeded_db, name, {field: 1})}
              for name, field in (("product_embeddings", "created_at"), (SALES_MONTHLY, "updated_at"))}
    assert stamps == {"product_embeddings": {as_of}, SALES_MONTHLY: {as_of}}
    latest = await seeded_db.orders.find_one({}, {"order_date": 1}, sort=[("order_date", -1)])
    assert latest["order_date"] < as_of


@pytest.mark.anyio
@pytest.mark.parametrize("name", [spec.name for spec in COLLECTIONS])
async def test_every_stored_document_validates(seeded_db, name: str) -> None:
    spec = SPECS[name]
    count = 0
    async for doc in seeded_db.get_collection(name).find({}):
        spec.model.model_validate(doc, strict=True, by_alias=True)
        assert doc["_id"] == doc[spec.id_field]
        count += 1
    assert count > 0


@pytest.mark.anyio
@pytest.mark.parametrize("name", [spec.name for spec in COLLECTIONS if spec.indexes])
async def test_model_indexes_exist(seeded_db, name: str) -> None:
    present = {ix["name"]: ix async for ix in await seeded_db.get_collection(name).list_indexes()}
    for index in SPECS[name].indexes:
        assert index.name in present, f"{name}: missing index {index.name}"
        info = present[index.name]
        assert list(info["key"].items()) == list(index.keys), (name, index.name)
        assert bool(info.get("unique", False)) is index.unique, (name, index.name)
        assert bool(info.get("sparse", False)) is index.sparse, (name, index.name)


@pytest.mark.anyio
async def test_synced_collections_have_pre_and_post_images(seeded_db) -> None:
    caps = await zdb.capabilities(Collections(seeded_db).products)
    assert caps.replica_set, "Ditto's connector needs a replica set; the test server must be one"
    options = {c["name"]: c.get("options", {}) async for c in await seeded_db.list_collections()}
    for name in SYNCED_COLLECTIONS:
        assert options[name].get("changeStreamPreAndPostImages", {}).get("enabled") is True, name
    for spec in COLLECTIONS:
        if not spec.synced:
            assert not options[spec.name].get("changeStreamPreAndPostImages", {}).get("enabled"), spec.name


@pytest.mark.anyio
async def test_sales_monthly_equals_a_rollup_of_the_stored_lines(seeded_db) -> None:
    lines = await read_all(seeded_db, "order_items")
    rollup = await read_all(seeded_db, SALES_MONTHLY)
    assert rollup
    assert_rollup_matches(rollup, lines)


@pytest.mark.anyio
async def test_seeding_state_is_complete_with_the_run_parameters(seeded_db) -> None:
    state = await seeded_db.get_collection(META).find_one({"_id": STATE_ID})
    assert state["status"] == "complete"
    assert state["params"] == {"scale": "small", "seed": TEST_SEED, "as_of": TEST_AS_OF.isoformat(),
                               "catalog": load_catalog().content_hash}


@pytest.mark.anyio
async def test_verify_checks_pass(seeded_db) -> None:
    checks = await collect_checks(Collections(seeded_db))
    names = {c.name for c in checks}
    assert {"seeding finished", "customers count", "inventory count", "latest order before as-of",
            "orders per customer", "items per order", "seasonality r, all categories"} <= names
    # At `small` the 5 % dip of 2023 is within noise: verify checks it from `default` up.
    assert "the 2023 dip" not in names
    failed = [(c.name, c.actual, c.target) for c in checks if not c.ok]
    assert not failed


@pytest.mark.anyio
async def test_seeding_the_same_parameters_again_is_a_no_op(seeded_db, expected_docs) -> None:
    before = await seeded_db.get_collection(META).find_one({"_id": STATE_ID})
    with Reporter(quiet=True) as reporter:
        report = await seed_database(Collections(seeded_db), small_generator(), embedder=None, drop=False,
                                     reporter=reporter)
    assert report.already_complete
    assert await seeded_db.get_collection(META).find_one({"_id": STATE_ID}) == before
    assert await counts(seeded_db) == {name: len(docs) for name, docs in expected_docs.items()}


# --- resume and safety (own databases) ---------------------------------------------------------


class SimulatedCrash(RuntimeError):
    pass


class CrashingGenerator(Generator):
    """Yields two order chunks, then fails as an interrupted run would."""

    def order_chunks(self, start_chunk: int = 0) -> Iterator[tuple[int, list[dict], list[dict]]]:
        for produced, chunk in enumerate(super().order_chunks(start_chunk)):
            if produced == 2:
                raise SimulatedCrash("simulated crash after two order chunks")
            yield chunk


async def drain_pipeline_writes() -> None:
    """Wait for insert tasks the pipeline left running when the generator raised (see the report)."""
    current = asyncio.current_task()
    left = []
    for task in asyncio.all_tasks():
        code = getattr(task.get_coro(), "cr_code", None)
        if task is not current and code is not None and Path(code.co_filename).match("seeding/pipeline.py"):
            left.append(task)
    await asyncio.gather(*left, return_exceptions=True)


@pytest.fixture
async def scratch_db(bulk_uri: str, request: pytest.FixtureRequest):
    """A database of the test's own, dropped before (and after on a server of the caller's: `drops_after_use`)."""
    name = request.param
    settings = settings_for(bulk_uri, name)
    client = await zdb.connect(settings)
    await client.drop_database(name)
    try:
        yield zdb.database(client, settings)
    finally:
        await drain_pipeline_writes()
        if drops_after_use():
            await client.drop_database(name)
        await client.close()


@pytest.mark.anyio
@pytest.mark.parametrize("scratch_db", ["zava_test_resume"], indirect=True)
async def test_interrupted_run_resumes_exactly_and_refuses_other_parameters(scratch_db, expected_docs) -> None:
    db = scratch_db
    crashing = CrashingGenerator(load_catalog(), scale="small", seed=TEST_SEED, as_of=TEST_AS_OF)
    assert crashing.order_chunk_count > 2, "the crash must interrupt the order load"

    with Reporter(quiet=True) as reporter, pytest.raises(SimulatedCrash):
        await seed_database(Collections(db), crashing, embedder=None, drop=False, reporter=reporter)
    await drain_pipeline_writes()

    state = await db.get_collection(META).find_one({"_id": STATE_ID})
    assert state["status"] == "running"
    assert set(REFERENCE) <= set(state["done"]) and "orders" not in state["done"]
    assert 1 <= state["order_chunks_done"] <= 2
    assert 0 < await db.orders.count_documents({}) < len(expected_docs["orders"])

    with Reporter(quiet=True) as reporter:
        report = await seed_database(Collections(db), small_generator(), embedder=None, drop=False, reporter=reporter)
    assert not report.already_complete
    assert {"orders", "order_items"} <= set(report.resumed)
    assert set(REFERENCE) <= set(report.skipped)
    expected_counts = {name: len(docs) for name, docs in expected_docs.items()}
    assert await counts(db) == expected_counts
    order_ids = [d["order_id"] for d in await read_all(db, "orders", {"order_id": 1})]
    assert len(order_ids) == len(set(order_ids)) == len(expected_docs["orders"])
    for name in ("orders", "order_items"):
        assert content_hash(await read_all(db, name)) == content_hash(expected_docs[name]), name
    state = await db.get_collection(META).find_one({"_id": STATE_ID})
    assert state["status"] == "complete"
    assert state["done"]["orders"] == expected_counts["orders"]
    assert state["done"]["order_items"] == expected_counts["order_items"]
    # The rollup includes the chunks loaded before the crash as well as those loaded after.
    assert_rollup_matches(await read_all(db, SALES_MONTHLY), expected_docs["order_items"])

    # Other parameters without --drop: refused, nothing changed.
    orders_hash = content_hash(await read_all(db, "orders"))
    with Reporter(quiet=True) as reporter, pytest.raises(SeedingRefused, match="--drop"):
        await seed_database(Collections(db), small_generator(TEST_SEED + 1), embedder=None, drop=False,
                            reporter=reporter)
    assert await counts(db) == expected_counts
    assert content_hash(await read_all(db, "orders")) == orders_hash
    assert (await db.get_collection(META).find_one({"_id": STATE_ID}))["params"] == state["params"]


@pytest.mark.anyio
@pytest.mark.parametrize("scratch_db", ["zava_test_foreign"], indirect=True)
async def test_foreign_data_is_refused_without_drop_and_replaced_with_drop(scratch_db, expected_docs) -> None:
    db = scratch_db
    foreign = {"_id": "legacy-customer-1", "name": "Not from seeding", "loyalty_points": 12}
    await db.customers.insert_one(foreign)

    with Reporter(quiet=True) as reporter, pytest.raises(SeedingRefused, match="not written by seeding"):
        await seed_database(Collections(db), small_generator(), embedder=None, drop=False, reporter=reporter)
    assert await read_all(db, "customers") == [foreign]
    assert await db.get_collection(META).find_one({"_id": STATE_ID}) is None
    assert sum((await counts(db)).values()) == 1

    with Reporter(quiet=True) as reporter:
        report = await seed_database(Collections(db), small_generator(), embedder=None, drop=True, reporter=reporter)
    assert not report.resumed
    assert await counts(db) == {name: len(docs) for name, docs in expected_docs.items()}
    assert await db.customers.find_one({"_id": foreign["_id"]}) is None
    assert (await db.get_collection(META).find_one({"_id": STATE_ID}))["status"] == "complete"
    assert content_hash(await read_all(db, "customers")) == content_hash(expected_docs["customers"])

    # The unique indexes of the model are enforced on the rebuilt data.
    product = await db.products.find_one({})
    with pytest.raises(DuplicateKeyError):
        await db.products.insert_one({**product, "_id": "prod_COPY", "product_id": "prod_COPY"})
    row = await db.inventory.find_one({})
    with pytest.raises(DuplicateKeyError):
        await db.inventory.insert_one({**row, "_id": "inv-copy", "inventory_id": "inv-copy"})
