"""Data safety: seeding killed at any point resumes exactly, the embedded engine keeps its data across a
stop and a crash, and seeding deletes nothing unless told to with --drop.

* Kill tests: `python -m seeding` runs as a subprocess against its own database on the bulk engine (`bulk_uri`)
  and is killed (SIGTERM, SIGKILL) when the seeding state shows it has reached a phase: loading the
  reference collections, loading the order chunks, building indexes and rollups. The same command is
  then run to completion, and the database must hold exactly the documents of an uninterrupted run
  (the generator's ids, no duplicates of `_id` or of the id field), a rollup equal to one computed from
  the generated lines, the model's indexes, a `complete` state, and `python -m seeding verify` passes.
* Engine tests: an engine of the test's own in a temporary directory, seeded once (with --drop over a
  database holding foreign data), then stopped and started, and killed and started.
* Refusals: other parameters without --drop are refused and change nothing; foreign data is kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pymongo import MongoClient
from pymongo.database import Database
from seeded_data import TEST_AS_OF, TEST_SEED, drop_after, settings_for

from seeding.catalog_loader import load_catalog
from seeding.generate import Generator
from zava_core.analysis.rollups import SALES_MONTHLY
from zava_core.infra import db as zdb
from zava_core.infra import embedded
from zava_core.model import COLLECTIONS, DATASET, META, SPECS, STATE_ID

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
_OURS = ("MONGODB_", "ZAVA_", "OPENAI_", "AZURE_OPENAI_")
# conftest's parameters: `python -m seeding verify` passes for them at the small scale (it does not for
# every seed: with seed 90210 the small dataset misses "the 2023 dip", 1,109 orders against 1,098 in 2022).
SEED = TEST_SEED
AS_OF = TEST_AS_OF
RUN = ["--scale", "small", "--seed", str(SEED), "--as-of", AS_OF.isoformat(), "--quiet"]
MEASURES = ("revenue", "gross", "discount", "cost", "units", "lines", "orders")
FOREIGN_NOTE = {"_id": "note-1", "text": "a collection seeding never wrote", "pinned": True}


# --- running the command line ------------------------------------------------------------------


def seeding_env(tmp_path: Path, uri: str, database: str) -> dict[str, str]:
    """The caller's environment without our settings, pointed at `database` on `uri`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OURS)}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(MONGODB_URI=uri, MONGODB_DATABASE=database, ZAVA_DATA_DIR=str(tmp_path / "zava-data"))
    return env


def run_seeding(tmp_path: Path, uri: str, database: str, args: list[str],
                timeout: float = 600) -> subprocess.CompletedProcess:
    # cwd is a temporary directory, so no `.env` of the project is read.
    return subprocess.run([sys.executable, "-m", "seeding", *args], cwd=tmp_path,
                          env=seeding_env(tmp_path, uri, database), capture_output=True, text=True,
                          timeout=timeout, check=False)


def other(args: list[str], option: str, value: str) -> list[str]:
    changed = list(args)
    changed[changed.index(option) + 1] = value
    return changed


# --- what an uninterrupted run writes ----------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    ids: dict[str, set[str]]  # collection -> the _ids an uninterrupted run writes
    rollup: dict[str, dict[str, float]]  # sales_monthly _id -> flattened figures
    order_chunks: int


def recompute_rollup(lines: list[dict]) -> dict[str, dict[str, float]]:
    """sales_monthly from order lines in plain Python (totals, per category, per product)."""
    sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    orders: dict[tuple[str, str], set[str]] = defaultdict(set)
    for line in lines:
        key = f"{line['store_id']}|{line['order_date'][:7]}"
        values = {"revenue": line["total_amount"], "gross": line["unit_price"] * line["quantity"],
                  "discount": line["discount_amount"], "cost": line["unit_cost"] * line["quantity"],
                  "units": line["quantity"], "lines": 1}
        for scope in ("totals", f"categories.{line['category_id']}", f"products.{line['product_id']}"):
            for measure, value in values.items():
                sums[key][f"{scope}.{measure}"] += value
            orders[key, scope].add(line["order_id"])
    for (key, scope), ids in orders.items():
        sums[key][f"{scope}.orders"] = len(ids)
    return {key: dict(values) for key, values in sums.items()}


def flatten_rollup(doc: dict) -> dict[str, float]:
    flat = {f"totals.{m}": v for m, v in doc["totals"].items()}
    for scope in ("categories", "products"):
        for item, measures in doc[scope].items():
            flat.update({f"{scope}.{item}.{m}": v for m, v in measures.items()})
    return flat


@pytest.fixture(scope="module")
def expected() -> Expected:
    generator = Generator(load_catalog(), scale="small", seed=SEED, as_of=AS_OF)
    ids = {
        "stores": {d["_id"] for d in generator.store_documents()},
        "categories": {d["_id"] for d in generator.category_documents()},
        "product_types": {d["_id"] for d in generator.product_type_documents()},
        "products": {d["_id"] for d in generator.product_documents()},
        "inventory": {d["_id"] for d in generator.inventory_documents()},
        "customers": {d["_id"] for batch in generator.customer_batches() for d in batch},
        "orders": set(),
        "order_items": set(),
    }
    lines: list[dict] = []
    for _, orders, items in generator.order_chunks():
        ids["orders"] |= {d["_id"] for d in orders}
        ids["order_items"] |= {d["_id"] for d in items}
        lines += items
    ids["product_embeddings"] = set(ids["products"])  # one vector per product, keyed by product_id
    rollup = recompute_rollup(lines)
    ids[SALES_MONTHLY] = set(rollup)
    assert set(ids) == {*DATASET, SALES_MONTHLY}
    return Expected(ids=ids, rollup=rollup, order_chunks=generator.order_chunk_count)


def assert_exactly_the_uninterrupted_dataset(db: Database, expected: Expected) -> None:
    """No duplicates, nothing missing, nothing extra; the rollup, the indexes and the state as after one run."""
    for name, want in expected.ids.items():
        stored = [d["_id"] for d in db.get_collection(name).find({}, {"_id": 1})]
        assert db.get_collection(name).count_documents({}) == len(stored) == len(set(stored)), f"{name}: duplicate _id"
        assert set(stored) == want, (f"{name}: {len(set(stored) - want)} extra, {len(want - set(stored))} missing "
                                     f"of {len(want)}")
        spec = SPECS.get(name)
        if spec is not None and spec.id_field != "_id":
            values = [d.get(spec.id_field) for d in db.get_collection(name).find({}, {spec.id_field: 1})]
            assert len(values) == len(set(values)) == len(want), f"{name}: duplicate {spec.id_field}"
    pairs = [(d["store_id"], d["product_id"]) for d in db.inventory.find({}, {"store_id": 1, "product_id": 1})]
    assert len(pairs) == len(set(pairs)), "inventory: two rows for one store and product"
    # Orders and lines agree: no order without its lines, no line without its order.
    assert set(db.order_items.distinct("order_id")) == expected.ids["orders"]
    for doc in db.get_collection(SALES_MONTHLY).find({}):
        figures, want = flatten_rollup(doc), expected.rollup[doc["_id"]]
        assert set(figures) == set(want), doc["_id"]
        for path, value in want.items():
            assert round(figures[path] * 100) == round(value * 100), (doc["_id"], path, figures[path], value)
    for spec in COLLECTIONS:
        present = {ix["name"]: ix for ix in db.get_collection(spec.name).list_indexes()}
        for index in spec.indexes:
            assert index.name in present, f"{spec.name}: index {index.name} missing"
            assert bool(present[index.name].get("unique", False)) is index.unique, (spec.name, index.name)
    state = db.get_collection(META).find_one({"_id": STATE_ID})
    assert state["status"] == "complete"
    assert state["params"]["seed"] == SEED and state["params"]["scale"] == "small"
    assert state["done"] == {name: len(expected.ids[name]) for name in state["done"]}
    assert set(state["done"]) == set(DATASET) - {"product_embeddings"}
    assert db.get_collection(META).count_documents({}) == 1


# --- killed at random points -------------------------------------------------------------------

KillPoint = Callable[[dict | None, int], bool]
KILL_POINTS: dict[str, KillPoint] = {
    # the reference collections are loading: stores written, customers not yet
    "reference": lambda s, chunks: s is not None and "stores" in s["done"] and "customers" not in s["done"],
    # some order chunks written, others not
    "orders": lambda s, chunks: s is not None and 2 <= s.get("order_chunks_done", 0) < chunks,
    # every document loaded; embeddings, indexes, pre/post images and the rollup in progress
    "finishing": lambda s, chunks: s is not None and "order_items" in s["done"] and s["status"] != "complete",
}
SIGNALS = {"sigterm": signal.SIGTERM, "sigkill": signal.SIGKILL}


def own_database_name(prefix: str, request: pytest.FixtureRequest) -> str:
    callspec = getattr(request.node, "callspec", None)
    suffix = callspec.id if callspec is not None else request.node.name.removeprefix("test_")
    return (prefix + re.sub(r"[^A-Za-z0-9]+", "_", suffix))[:60]


@pytest.fixture
def kill_db(bulk_uri: str, request: pytest.FixtureRequest) -> Iterator[tuple[str, Database]]:
    """A database of the test's own on the bulk engine, dropped before and after."""
    name = own_database_name("zava_test_kill_", request)
    client: MongoClient = MongoClient(bulk_uri)
    client.drop_database(name)
    try:
        yield name, client[name]
    finally:
        drop_after(client, name)
        client.close()


def kill_when(process: subprocess.Popen, db: Database, reached: KillPoint, chunks: int, sig: signal.Signals,
              timeout_s: float = 300) -> dict:
    """Send `sig` to the seeding process as soon as its state document shows `reached`; the state seen."""
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            state = db.get_collection(META).find_one({"_id": STATE_ID})
            if reached(state, chunks):
                process.send_signal(sig)
                assert process.wait(timeout=60) == -sig
                return state
            if process.poll() is not None:
                pytest.fail(f"seeding ended with {process.returncode} before the kill point (state {state})")
            time.sleep(0.05)
        pytest.fail("the kill point was not reached in time")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=60)


@pytest.mark.parametrize("point", list(KILL_POINTS))
@pytest.mark.parametrize("sig_name", list(SIGNALS))
def test_seeding_killed_then_rerun_equals_an_uninterrupted_run(bulk_uri: str, kill_db, expected: Expected,
                                                               tmp_path: Path, sig_name: str, point: str) -> None:
    name, db = kill_db
    with open(tmp_path / "killed.log", "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "seeding", *RUN], cwd=tmp_path,
                                   env=seeding_env(tmp_path, bulk_uri, name), stdout=log, stderr=subprocess.STDOUT)
        seen = kill_when(process, db, KILL_POINTS[point], expected.order_chunks, SIGNALS[sig_name])

    # The kill left an unfinished dataset behind.
    state = db.get_collection(META).find_one({"_id": STATE_ID})
    assert state["status"] == "running", f"killed at {seen}, the run still finished"
    if point == "reference":
        assert db.orders.estimated_document_count() == 0
    if point == "orders":
        assert 0 < db.orders.count_documents({}) < len(expected.ids["orders"])

    resumed = run_seeding(tmp_path, bulk_uri, name, RUN)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "Traceback" not in resumed.stderr
    skipped = next((ln for ln in resumed.stdout.splitlines() if ln.startswith("already complete, skipped:")), "")
    assert "stores" in skipped, resumed.stdout  # what was recorded as done is not loaded again
    if point == "finishing":
        assert "orders" in skipped and "order_items" in skipped, resumed.stdout

    assert_exactly_the_uninterrupted_dataset(db, expected)
    verify = run_seeding(tmp_path, bulk_uri, name, ["verify", "--quiet"])
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "within tolerance" in verify.stdout


# --- an engine of our own: stop, start, crash ----------------------------------------------------


def engines_serving(data_dir: Path) -> list[int]:
    """Pids of live engine processes on this data directory's storage (only ever ours)."""
    storage = str(data_dir / "secantus-data").encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and b"--storage-path" in args and storage in args:
            pids.append(int(proc.name))
    return sorted(pids)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def crash(state: embedded.EngineState) -> None:
    """Kill the engine as a power cut or the OOM killer would (it is our own child: reap it)."""
    os.kill(state.pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(state.pid, 0)
    deadline = time.monotonic() + 10
    while pid_alive(state.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(state.pid)


@dataclass
class OwnEngine:
    data_dir: Path
    database: str
    foreign_customer: dict

    def uri(self) -> str:
        return embedded.ensure_running(self.data_dir).uri


@pytest.fixture(scope="module")
def own_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnEngine]:
    """An engine in a temporary directory, its database seeded with --drop over foreign data."""
    data_dir = tmp_path_factory.mktemp("own-engine")
    work = tmp_path_factory.mktemp("own-engine-cli")
    engine = OwnEngine(data_dir, "zava_test_restart",
                       {"_id": "legacy-customer-1", "name": "Not from seeding", "loyalty_points": 12})
    try:
        uri = engine.uri()
        with MongoClient(uri) as client:
            db = client[engine.database]
            db.customers.insert_one(engine.foreign_customer)
            db.legacy_notes.insert_one(FOREIGN_NOTE)
        result = run_seeding(work, uri, engine.database, [*RUN, "--drop"])
        assert result.returncode == 0, result.stdout + result.stderr
        yield engine
    finally:
        embedded.stop(data_dir)
        for pid in engines_serving(data_dir):  # an engine a failed test left running on this directory
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _digest(docs: Iterator[dict]) -> str:
    digest = hashlib.sha256()
    for doc in sorted(docs, key=lambda d: str(d["_id"])):
        digest.update(json.dumps(doc, sort_keys=True, default=str, ensure_ascii=False).encode())
    return digest.hexdigest()


FULL_CONTENT = ("stores", "categories", "product_types", "products", "inventory", "customers", SALES_MONTHLY, META,
                "legacy_notes")


def snapshot(uri: str, database: str) -> dict:
    """Everything a stop, a crash or a refused run must not change: collections, their options, counts,
    content (whole documents for the smaller collections, ids for the large ones) and indexes."""
    with MongoClient(uri, serverSelectionTimeoutMS=20_000) as client:
        db = client[database]
        out: dict = {"collections": {c["name"]: c.get("options", {}) for c in db.list_collections()}}
        for name in sorted(out["collections"]):
            collection = db.get_collection(name)
            docs = collection.find({}) if name in FULL_CONTENT else collection.find({}, {"_id": 1})
            out[name] = {
                "count": collection.count_documents({}),
                "content": _digest(docs),
                "indexes": sorted((ix["name"], list(ix["key"].items()), bool(ix.get("unique")),
                                   bool(ix.get("sparse"))) for ix in collection.list_indexes()),
            }
        return out


def test_drop_replaced_the_dataset_and_kept_the_foreign_collection(own_engine: OwnEngine,
                                                                   expected: Expected) -> None:
    with MongoClient(own_engine.uri()) as client:
        db = client[own_engine.database]
        assert db.customers.find_one({"_id": own_engine.foreign_customer["_id"]}) is None
        assert list(db.legacy_notes.find()) == [FOREIGN_NOTE]
        assert_exactly_the_uninterrupted_dataset(db, expected)


def test_engine_stop_and_start_keep_data_indexes_and_state(own_engine: OwnEngine, tmp_path: Path) -> None:
    before_state = embedded.ensure_running(own_engine.data_dir)
    before = snapshot(before_state.uri, own_engine.database)
    assert before[META]["count"] == 1 and before["orders"]["count"] > 0
    unique = {(name, ix[0]) for name in before if name != "collections" for ix in before[name]["indexes"] if ix[2]}
    assert {("products", "sku_1"), ("inventory", "store_id_1_product_id_1"),
            ("orders", "idempotency_key_1")} <= unique

    assert embedded.stop(own_engine.data_dir) is True
    assert not pid_alive(before_state.pid)
    assert embedded.running_state(own_engine.data_dir) is None
    assert engines_serving(own_engine.data_dir) == []

    after_state = embedded.ensure_running(own_engine.data_dir)
    assert after_state.pid != before_state.pid
    assert snapshot(after_state.uri, own_engine.database) == before
    with MongoClient(after_state.uri) as client:
        assert client[own_engine.database][META].find_one({"_id": STATE_ID})["status"] == "complete"

    # After the restart the same command finds the dataset complete and verify passes.
    again = run_seeding(tmp_path, after_state.uri, own_engine.database, RUN)
    assert again.returncode == 0 and "already holds this dataset" in again.stdout, again.stdout + again.stderr
    verify = run_seeding(tmp_path, after_state.uri, own_engine.database, ["verify", "--quiet"])
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_engine_crash_keeps_the_seeded_dataset(own_engine: OwnEngine) -> None:
    state = embedded.ensure_running(own_engine.data_dir)
    before = snapshot(state.uri, own_engine.database)
    crash(state)
    # The state file still names the dead engine: the next start must replace it, not trust it.
    restarted = embedded.ensure_running(own_engine.data_dir)
    assert restarted.pid != state.pid
    assert engines_serving(own_engine.data_dir) == [restarted.pid]
    assert snapshot(restarted.uri, own_engine.database) == before


@pytest.mark.anyio
async def test_an_acknowledged_write_survives_an_engine_crash(own_engine: OwnEngine) -> None:
    """What create_order or seeding was told is stored must still be there after a crash."""
    lost = []
    for round_ in range(3):
        state = embedded.ensure_running(own_engine.data_dir)
        settings = settings_for(state.uri, "zava_test_crash")
        client = await zdb.connect(settings)  # the client every server and seeding use
        try:
            document = {"_id": f"ord-crash-{round_}", "store_id": "store_seattle", "total": 19.99}
            await zdb.database(client, settings)["orders"].insert_one(document)
            crash(state)
        finally:
            await client.close()
        restarted = embedded.ensure_running(own_engine.data_dir)
        with MongoClient(restarted.uri) as check:
            if check["zava_test_crash"]["orders"].find_one({"_id": document["_id"]}) != document:
                lost.append(document["_id"])
    assert not lost, f"acknowledged, then lost in a crash: {lost}"


# --- only --drop deletes -------------------------------------------------------------------------


def refusal_line(result: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("refused: ")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_other_parameters_without_drop_are_refused_and_change_nothing(own_engine: OwnEngine,
                                                                      tmp_path: Path) -> None:
    uri = own_engine.uri()
    before = snapshot(uri, own_engine.database)
    assert before["legacy_notes"]["count"] == 1
    for args in (other(RUN, "--seed", str(SEED + 1)), other(RUN, "--scale", "default"),
                 [*other(RUN, "--as-of", "2026-10-01"), "--skip-embeddings"]):
        result = run_seeding(tmp_path, uri, own_engine.database, args)
        assert result.returncode == 3, (args, result.stdout, result.stderr)
        line = refusal_line(result)
        assert "--drop" in line and "nothing was changed" in line, line
    assert snapshot(uri, own_engine.database) == before, "a refused run changed the database"
    same = run_seeding(tmp_path, uri, own_engine.database, RUN)
    assert same.returncode == 0 and "already holds this dataset" in same.stdout, same.stdout + same.stderr
    assert snapshot(uri, own_engine.database) == before


@pytest.fixture
def fresh_db(bulk_uri: str, request: pytest.FixtureRequest) -> Iterator[tuple[str, Database]]:
    """An empty database of the test's own on the bulk engine, dropped before and after."""
    name = own_database_name("zava_test_foreign_", request)
    client: MongoClient = MongoClient(bulk_uri)
    client.drop_database(name)
    try:
        yield name, client[name]
    finally:
        drop_after(client, name)
        client.close()


@pytest.mark.parametrize("collection", ["orders", "inventory", "product_embeddings"])
def test_foreign_documents_are_refused_and_kept(bulk_uri: str, fresh_db, tmp_path: Path, collection: str) -> None:
    name, db = fresh_db
    foreign = {"_id": f"legacy-{collection}-1", "store_id": "store_seattle", "note": "written by another system"}
    db.get_collection(collection).insert_one(foreign)
    db.legacy_notes.insert_one(FOREIGN_NOTE)
    before = snapshot(bulk_uri, name)

    result = run_seeding(tmp_path, bulk_uri, name, RUN)
    assert result.returncode == 3, result.stdout + result.stderr
    line = refusal_line(result)
    assert "not written by seeding" in line and "--drop" in line, line
    assert snapshot(bulk_uri, name) == before
    assert sorted(db.list_collection_names()) == sorted([collection, "legacy_notes"])
    assert list(db.get_collection(collection).find()) == [foreign]
    assert list(db.legacy_notes.find()) == [FOREIGN_NOTE]


def test_a_foreign_sales_monthly_is_not_deleted_without_drop(bulk_uri: str, fresh_db, tmp_path: Path) -> None:
    name, db = fresh_db
    report = {"_id": "report-2024-01", "month": "2024-01", "note": "a hand-made monthly report", "revenue": 123.45}
    db.get_collection(SALES_MONTHLY).insert_one(report)
    db.legacy_notes.insert_one(FOREIGN_NOTE)

    result = run_seeding(tmp_path, bulk_uri, name, [*RUN, "--skip-embeddings"])
    assert result.returncode in (0, 3), result.stdout + result.stderr
    assert list(db.legacy_notes.find()) == [FOREIGN_NOTE]
    assert db.get_collection(SALES_MONTHLY).find_one({"_id": report["_id"]}) == report, (
        f"seeding without --drop exited {result.returncode} and deleted a document it never wrote")
