"""`python -m zava_ops indexes | change-streams | clear` against scratch databases of the bulk engine (`bulk_uri`).

The commands run as subprocesses, configured only by MONGODB_URI / MONGODB_DATABASE, and the tests
check the database afterwards with PyMongo. The shared `seeded` database is never touched.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo import MongoClient
from pymongo.database import Database
from seeded_data import TEST_AS_OF, TEST_SEED, drop_after

from zava_core.model import COLLECTIONS, DATASET, JOURNALS, META, ROLLUPS, SEARCH, STATE_ID, SYNCED_COLLECTIONS
from zava_core.store import setup as database_setup
from zava_ops.change_streams import MARKER_COLLECTION
from zava_ops.clear import CLEARABLE

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
_OURS = ("MONGODB_", "ZAVA_", "OPENAI_", "AZURE_OPENAI_")
MODEL_INDEXES = {f"{spec.name}.{index.name}" for spec in (*COLLECTIONS, *ROLLUPS, *JOURNALS, *SEARCH)
                 for index in spec.indexes}


def run_module(module: str, tmp_path: Path, uri: str, database: str, *args: str,
               stdin: str = "") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OURS)}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(MONGODB_URI=uri, MONGODB_DATABASE=database, ZAVA_DATA_DIR=str(tmp_path / "zava-data"))
    return subprocess.run([sys.executable, "-m", module, *args], cwd=tmp_path, env=env, input=stdin,
                          capture_output=True, text=True, timeout=300, check=False)


def run_ops(tmp_path: Path, uri: str, database: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return run_module("zava_ops", tmp_path, uri, database, *args, stdin=stdin)


def run_seeding(tmp_path: Path, uri: str, database: str, *args: str) -> subprocess.CompletedProcess:
    return run_module("seeding", tmp_path, uri, database, *args)


@pytest.fixture
def scratch(bulk_uri: str, request: pytest.FixtureRequest) -> Iterator[Database]:
    """An empty database named after the test (dropped afterwards on a server of the caller's: `drop_after`)."""
    name = f"zava_test_ops_{request.node.name[5:30]}"
    client: MongoClient = MongoClient(bulk_uri)
    client.drop_database(name)
    try:
        yield client[name]
    finally:
        drop_after(client, name)
        client.close()


def index_names(db: Database) -> set[str]:
    existing = set(db.list_collection_names())
    return {f"{name}.{ix['name']}" for name in existing for ix in db.get_collection(name).list_indexes()
            if ix["name"] != "_id_"}


def counts(db: Database) -> dict[str, int]:
    return {name: db.get_collection(name).estimated_document_count() for name in db.list_collection_names()}


# --- indexes ----------------------------------------------------------------------------------------

def test_indexes_create_list_drop_round_trip(bulk_uri: str, scratch: Database, tmp_path: Path) -> None:
    def run(action: str) -> subprocess.CompletedProcess:
        return run_ops(tmp_path, bulk_uri, scratch.name, "indexes", action)

    listed = run("list")
    assert listed.returncode == 1, listed.stdout  # everything is missing on an empty database
    assert f"0 present, {len(MODEL_INDEXES)} missing" in listed.stdout

    created = run("create")
    assert created.returncode == 0, created.stderr
    assert f"{len(MODEL_INDEXES)} created, 0 already present" in created.stdout
    assert index_names(scratch) == MODEL_INDEXES

    again = run("create")
    assert f"0 created, {len(MODEL_INDEXES)} already present" in again.stdout

    scratch["products"].create_index("operator_note", name="operator_note_1")  # not ours
    listed = run("list")
    assert listed.returncode == 0, listed.stdout
    assert f"{len(MODEL_INDEXES)} present, 0 missing, 0 differs, 1 extra" in listed.stdout
    assert any(line.startswith("extra") and "products.operator_note_1" in line for line in listed.stdout.splitlines())

    dropped = run("drop")
    assert dropped.returncode == 0, dropped.stderr
    assert f"{len(MODEL_INDEXES)} model indexes dropped" in dropped.stdout
    # `_id_` and the index the model does not define are kept.
    assert index_names(scratch) == {"products.operator_note_1"}
    assert all(any(ix["name"] == "_id_" for ix in scratch[name].list_indexes())
               for name in scratch.list_collection_names())
    assert run("list").returncode == 1


def test_indexes_list_reports_an_index_whose_keys_differ(bulk_uri: str, scratch: Database, tmp_path: Path) -> None:
    scratch["products"].create_index([("sku", -1)], name="sku_1")  # the model's name, other keys
    listed = run_ops(tmp_path, bulk_uri, scratch.name, "indexes", "list")
    assert listed.returncode == 1
    assert any(line.startswith("differs") and "products.sku_1" in line for line in listed.stdout.splitlines())
    created = run_ops(tmp_path, bulk_uri, scratch.name, "indexes", "create")
    assert created.returncode == 1 and "indexes drop" in created.stderr


# --- change streams -----------------------------------------------------------------------------------

def test_change_streams_enable_then_test_leaves_no_marker(bulk_uri: str, scratch: Database, tmp_path: Path) -> None:
    enabled = run_ops(tmp_path, bulk_uri, scratch.name, "change-streams", "enable")
    assert enabled.returncode == 0, enabled.stderr
    assert f"enabled on {len(SYNCED_COLLECTIONS)} of {len(SYNCED_COLLECTIONS)}" in enabled.stdout
    options = {c["name"]: c.get("options", {}) for c in scratch.list_collections()}
    assert all(options[name]["changeStreamPreAndPostImages"] == {"enabled": True} for name in SYNCED_COLLECTIONS)

    tested = run_ops(tmp_path, bulk_uri, scratch.name, "change-streams", "test")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    out = tested.stdout
    assert f"pre/post images on {len(SYNCED_COLLECTIONS)} of {len(SYNCED_COLLECTIONS)}" in out
    assert "captured 3 of 3 events" in out
    kinds = [line.split()[0] for line in out.splitlines() if line.startswith("  ") and not line.startswith("   ")]
    assert kinds == ["insert", "update", "delete"], out
    assert f"{scratch.name}.{MARKER_COLLECTION}" in out
    assert 'updated fields: {"step": 2}' in out
    # The update's and the delete's pre-images are the marker as it was before each change.
    pre_images = [line for line in out.splitlines() if "pre-image:" in line]
    assert len(pre_images) == 2 and '"step": 1' in pre_images[0] and '"step": 2' in pre_images[1], out
    # No marker left behind, and nothing written into the dataset.
    assert MARKER_COLLECTION not in scratch.list_collection_names()
    assert all(scratch[name].count_documents({}) == 0 for name in SYNCED_COLLECTIONS)


# --- clear --------------------------------------------------------------------------------------------

SMALL_RUN = ("--scale", "small", "--seed", str(TEST_SEED), "--as-of", TEST_AS_OF.isoformat(), "--skip-embeddings",
             "--quiet")
OPERATOR_DOC = {"_id": "operator", "note": "not the seeding state"}


@pytest.fixture
def tiny(scratch: Database) -> Database:
    """A few documents in every clearable collection, with the model's indexes and a seeding state, beside
    data that is not the dataset's: another collection and another document in the meta collection."""
    for spec in (*COLLECTIONS, *ROLLUPS, *JOURNALS):
        # Distinct values in every indexed field, so the unique indexes accept the documents.
        fields = {name for index in spec.indexes for name, _ in index.keys} - {"deleted"}
        scratch[spec.name].insert_many([{"_id": f"{spec.name}-{i}", "deleted": False, **{f: f"{f}-{i}" for f in fields}}
                                        for i in range(3)])
        if spec.indexes:
            scratch[spec.name].create_indexes(database_setup.index_models(spec))
    scratch[META].insert_many([{"_id": STATE_ID, "status": "complete", "done": {n: 3 for n in DATASET}},
                               OPERATOR_DOC])
    scratch["operator_notes"].insert_many([{"_id": 1, "text": "keep me"}, {"_id": 2, "text": "me too"}])
    return scratch


def test_clear_refuses_unknown_collections(bulk_uri: str, tiny: Database, tmp_path: Path) -> None:
    before = counts(tiny)
    result = run_ops(tmp_path, bulk_uri, tiny.name, "clear", "--collections", "orders", "operator_notes", "--yes")
    assert result.returncode == 2
    assert "unknown collection(s): operator_notes" in result.stderr
    assert all(name in result.stderr for name in CLEARABLE)
    assert counts(tiny) == before


@pytest.mark.parametrize("answer", ["zava\n", "", "TINY\n"], ids=["other-name", "end-of-input", "wrong-case"])
def test_clear_refuses_without_the_typed_database_name(bulk_uri: str, tiny: Database, tmp_path: Path,
                                                        answer: str) -> None:
    before = counts(tiny)
    answer = answer.replace("TINY", tiny.name.upper())
    result = run_ops(tmp_path, bulk_uri, tiny.name, "clear", "--collections", "orders", stdin=answer)
    assert result.returncode == 1
    assert f"Type the database name ({tiny.name}) to confirm" in result.stdout
    assert "nothing was deleted" in result.stderr
    assert counts(tiny) == before


def test_clear_with_the_typed_name_empties_exactly_the_named_collections(bulk_uri: str, tiny: Database,
                                                                         tmp_path: Path) -> None:
    before = counts(tiny)
    indexes_before = index_names(tiny)
    result = run_ops(tmp_path, bulk_uri, tiny.name, "clear", "--collections", "orders,order_items",
                         "sales_monthly", stdin=f"{tiny.name}\n")
    assert result.returncode == 0, result.stderr
    assert "cleared 3 collection(s), 9 documents deleted" in result.stdout
    named = {"orders", "order_items", "sales_monthly"}
    assert counts(tiny) == {name: (0 if name in named else n) for name, n in before.items()}
    assert index_names(tiny) == indexes_before  # delete_many keeps the indexes
    # The seeding state forgets the cleared collections, so the next seeding run refills them.
    state = tiny[META].find_one({"_id": STATE_ID})
    assert state["status"] == "running" and state["order_chunks_done"] == 0
    assert set(state["done"]) == set(DATASET) - {"orders", "order_items"}


def test_clear_everything_with_yes_keeps_what_is_not_the_dataset(bulk_uri: str, tiny: Database,
                                                                 tmp_path: Path) -> None:
    indexes_before = index_names(tiny)
    result = run_ops(tmp_path, bulk_uri, tiny.name, "clear", "--yes")
    assert result.returncode == 0, result.stderr
    assert f"cleared {len(CLEARABLE)} collection(s), {3 * len(CLEARABLE)} documents deleted" in result.stdout
    after = counts(tiny)
    assert all(after[name] == 0 for name in CLEARABLE), after
    assert after["operator_notes"] == 2
    assert tiny[META].find_one({"_id": STATE_ID}) is None
    assert list(tiny[META].find()) == [OPERATOR_DOC]
    assert index_names(tiny) == indexes_before


def test_seeding_refills_what_clear_emptied(bulk_uri: str, scratch: Database, tmp_path: Path) -> None:
    seeded = run_seeding(tmp_path, bulk_uri, scratch.name, *SMALL_RUN)
    assert seeded.returncode == 0, seeded.stderr
    before = counts(scratch)
    cleared = run_ops(tmp_path, bulk_uri, scratch.name, "clear", "--collections", "products", "stores", "--yes")
    assert cleared.returncode == 0, cleared.stderr
    assert scratch["products"].estimated_document_count() == 0 and scratch["stores"].estimated_document_count() == 0

    # The same seeding command resumes: it refills exactly what was cleared and completes.
    reseeded = run_seeding(tmp_path, bulk_uri, scratch.name, *SMALL_RUN)
    assert reseeded.returncode == 0, reseeded.stderr
    assert counts(scratch) == before
    assert scratch[META].find_one({"_id": STATE_ID})["status"] == "complete"
