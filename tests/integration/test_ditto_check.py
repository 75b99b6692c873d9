"""`python -m zava_ops ditto-check`: the seeded dataset meets every connector prerequisite, and a scratch
database broken on purpose fails with each problem listed (collection, kind, the offending ids)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo import MongoClient
from seeded_data import SEEDED_DATABASE, drop_after
from test_cli import run_ops

from zava_core.infra import db as zdb
from zava_core.infra.config import Settings
from zava_core.model import SYNCED_COLLECTIONS
from zava_core.store import Collections
from zava_ditto import check as ditto_check

pytestmark = pytest.mark.integration

SCRATCH_DATABASE = "zava_test_ditto_check"
COPY = 20  # documents copied per collection from the seeded dataset


@pytest.mark.anyio
async def test_seeded_database_passes_and_every_document_is_scanned(seeded_db) -> None:
    report = await ditto_check.check_database(Collections(seeded_db))
    assert report.problems == []
    assert [c.name for c in report.collections] == list(SYNCED_COLLECTIONS)
    for coll in report.collections:
        assert coll.scanned == await seeded_db.get_collection(coll.name).count_documents({}), coll.name
    assert any("replica set" in line for line in report.server)


@pytest.mark.anyio
async def test_big_collections_report_progress(seeded_db, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ditto_check, "PROGRESS_EVERY", 5_000)
    seen: list[tuple[str, int, int]] = []
    await ditto_check.check_database(Collections(seeded_db),
                                     progress=lambda name, n, total: seen.append((name, n, total)))
    big = {name for name in SYNCED_COLLECTIONS
           if await seeded_db.get_collection(name).estimated_document_count() >= 5_000}
    assert big and {name for name, _, _ in seen} == big
    for name in big:
        counts = [n for coll, n, _ in seen if coll == name]
        assert counts == list(range(5_000, await seeded_db.get_collection(name).count_documents({}) + 1, 5_000))


def test_cli_passes_on_the_seeded_database(mongo_uri: str, seeded: Settings, tmp_path: Path) -> None:
    result = run_ops(tmp_path, ["ditto-check"], MONGODB_URI=mongo_uri, MONGODB_DATABASE=SEEDED_DATABASE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    for name in SYNCED_COLLECTIONS:
        assert any(line.startswith("ok") and f" {name}: " in line for line in lines), name
    assert not any(line.startswith("FAIL") for line in lines)


# --- a scratch database with one deliberate problem per rule --------------------------------------------

BROKEN_INVENTORY = 5  # more than MAX_EXAMPLES, to see the grouping


@pytest.fixture(scope="module")
def broken(mongo_uri: str, seeded: Settings) -> Iterator[dict[tuple[str, str], list[object]]]:
    """Build the scratch database; yields (collection, kind) -> the ids expected in the report."""
    with MongoClient(mongo_uri, tz_aware=True) as client:
        client.drop_database(SCRATCH_DATABASE)
        source, db = client[SEEDED_DATABASE], client[SCRATCH_DATABASE]
        expected: dict[tuple[str, str], list[object]] = {}
        for name in SYNCED_COLLECTIONS:
            if name == "order_items":
                expected[(name, "missing-collection")] = []
                continue  # never created
            if name == "stores":
                db.create_collection(name, capped=True, size=1 << 20)
                expected[(name, "capped")] = []
            else:
                db.create_collection(name)
            if name == "product_types":
                expected[(name, "pre-post-images")] = []
            else:
                db.command("collMod", name, changeStreamPreAndPostImages={"enabled": True})
            db.get_collection(name).insert_many(source[name].find().sort("_id", 1).limit(COPY).to_list())

        def ids(name: str, n: int) -> list[object]:
            return [d["_id"] for d in db.get_collection(name).find({}, {"_id": 1}).sort("_id", 1).limit(n)]

        inventory = ids("inventory", BROKEN_INVENTORY)
        db.inventory.update_many({"_id": {"$in": inventory}}, {"$set": {"location": ["A1", "S2", "B3"]}})
        expected[("inventory", "map-field")] = inventory
        (product,) = ids("products", 1)
        db.products.update_one({"_id": product}, {"$unset": {"product_id": ""}})
        expected[("products", "ditto-id")] = [product]
        category = db.categories.find_one(sort=[("_id", 1)])
        object_id = {"code": "XX"}
        db.categories.insert_one({**category, "_id": object_id, "category_id": "cat_xx"})
        expected[("categories", "ditto-id")] = [object_id]
        late, dated = ids("orders", 2)
        db.orders.update_one({"_id": late}, {"$set": {"order_date": "2024-12-05 14:22:00"}})
        db.orders.update_one({"_id": dated}, {"$set": {"updated_at": dt.datetime(2024, 12, 5, tzinfo=dt.UTC)}})
        expected[("orders", "timestamp")] = [late, dated]
        (customer,) = ids("customers", 1)
        db.customers.update_one({"_id": customer}, {"$unset": {"deleted": ""}})
        expected[("customers", "deleted")] = [customer]
        try:
            yield expected
        finally:
            drop_after(client, SCRATCH_DATABASE)


@pytest.fixture
async def scratch_db(broken, mongo_uri: str):
    client = await zdb.connect(Settings(mongodb_uri=mongo_uri, mongodb_database=SCRATCH_DATABASE))
    try:
        yield client[SCRATCH_DATABASE]
    finally:
        await client.close()


@pytest.mark.anyio
async def test_broken_database_fails_with_each_problem(broken, scratch_db) -> None:
    report = await ditto_check.check_database(Collections(scratch_db))
    assert not report.ok
    found: dict[tuple[str, str], list[ditto_check.Problem]] = {}
    for problem in report.problems:
        found.setdefault((problem.collection, problem.kind), []).append(problem)
    assert set(found) == set(broken), "exactly the planted problems, nothing else"
    for key, ids in broken.items():
        examples = [e for p in found[key] for e in p.examples]
        assert all(e in ids for e in examples), key
        assert len(examples) == min(len(ids), ditto_check.MAX_EXAMPLES * len(found[key])), key
    (grouped,) = found[("inventory", "map-field")]
    assert grouped.count == BROKEN_INVENTORY and len(grouped.examples) == ditto_check.MAX_EXAMPLES
    assert "location is an array, not a map" in grouped.message
    assert "product_id" in found[("products", "ditto-id")][0].message
    assert "object" in found[("categories", "ditto-id")][0].message
    dates = {p.message for p in found[("orders", "timestamp")]}
    late = next(p for p in found[("orders", "timestamp")] if p.message.startswith("order_date"))
    assert "not in the one ISO format" in late.message and late.first_value == "'2024-12-05 14:22:00'"
    assert any("updated_at is a datetime" in m for m in dates)
    # The collection that was never created is reported, not scanned.
    assert next(c for c in report.collections if c.name == "order_items").scanned == 0
    scanned = {c.name: c.scanned for c in report.collections}
    assert scanned["categories"] == await scratch_db.categories.count_documents({})


def test_cli_lists_every_problem_and_exits_non_zero(broken, mongo_uri: str, tmp_path: Path) -> None:
    result = run_ops(tmp_path, ["ditto-check"], MONGODB_URI=mongo_uri, MONGODB_DATABASE=SCRATCH_DATABASE)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    problems = [line.removeprefix("  - ") for line in lines if line.startswith("  - ")]
    assert f"{len(problems)} problem(s) in database {SCRATCH_DATABASE!r}" in "\n".join(lines)
    for collection, kind in broken:
        assert any(line.startswith(f"FAIL  {collection}: ") for line in lines), (collection, kind)
        assert any(line.startswith(f"{collection}: ") for line in problems), (collection, kind)
    assert sum(line.startswith("orders: ") for line in problems) == 2
    assert any(line.startswith("inventory: location is an array") and "(5 documents, e.g." in line
               for line in problems)
    assert any(line.startswith("stores: ") and "capped" in line for line in problems)
    assert any(line.startswith("order_items: ") and "does not exist" in line for line in problems)
    assert any(line.startswith("product_types: ") and "pre- and post-images are off" in line for line in problems)
    assert any(line.startswith("categories: ") and "{'code': 'XX'}" in line for line in problems)
    assert len(problems) == len(broken) + 1  # orders has two timestamp problems


def test_privileges_are_read_from_connection_status() -> None:
    """The connector's user must read, write and watch the database (readWrite)."""
    def status(privileges: list[dict]) -> dict:
        return {"authenticatedUsers": [{"user": "u", "db": "admin"}], "authenticatedUserPrivileges": privileges}

    read_write = [{"resource": {"db": "zava", "collection": ""},
                   "actions": ["find", "insert", "update", "remove", "changeStream", "listIndexes"]}]
    read_only = [{"resource": {"db": "zava", "collection": ""}, "actions": ["find", "changeStream"]}]
    other_db = [{"resource": {"db": "other", "collection": ""}, "actions": read_write[0]["actions"]}]
    any_db = [{"resource": {"db": "", "collection": ""}, "actions": read_write[0]["actions"]}]
    assert ditto_check.missing_actions({"authenticatedUsers": []}, "zava") is None
    assert ditto_check.missing_actions(status(read_write), "zava") == set()
    assert ditto_check.missing_actions(status(any_db), "zava") == set()
    assert ditto_check.missing_actions(status(read_only), "zava") == {"insert", "update", "remove"}
    assert ditto_check.missing_actions(status(other_db), "zava") == {"find", "insert", "update", "remove",
                                                                     "changeStream"}


def test_a_root_role_without_listed_privileges_grants_everything() -> None:
    """What the embedded engine (with --auth) reports for its user: the role only, no privileges."""
    info = {"authenticatedUsers": [{"user": "zava-engine", "db": "admin"}],
            "authenticatedUserRoles": [{"role": "root", "db": "admin"}], "authenticatedUserPrivileges": []}
    assert ditto_check.missing_actions(info, "zava") == set()
    reader = {**info, "authenticatedUserRoles": [{"role": "read", "db": "zava"}]}
    assert {"insert", "remove", "update"} <= ditto_check.missing_actions(reader, "zava")  # read alone cannot write
