"""Synonyms as data, low confidence and the per-store count of misses, through the MCP SDK client on the engine.

Expectations come from the documents (pymongo), the curated source (seeding/synonyms.py) or mappings the
test writes itself, never from a tool's output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mcp import Client
from polling import eventually
from pymongo.database import Database

from mcp_servers.customer_sales.server import build_server as build_customer_sales
from mcp_servers.sales_analysis.server import build_server as build_sales_analysis
from seeding.catalog_loader import load_catalog
from seeding.synonyms import curated_mappings
from zava_core.infra import db as zdb
from zava_core.retail import watched
from zava_core.retail.synonym_index import SynonymIndex
from zava_core.scope import Identity
from zava_core.store import Collections

pytestmark = pytest.mark.integration
HEAD_OFFICE = Identity(head_office=True)
TACOMA, SEATTLE = Identity(False, "tacoma"), Identity(False, "seattle")
MISSES = "zava://search/misses"
ROOT = Path(__file__).resolve().parents[2]


async def ok(client: Client, tool: str, args: dict) -> dict:
    result = await client.call_tool(tool, args)
    assert not result.is_error, f"{tool}({args}) failed: {result.content[0].text}"
    return result.structured_content



def test_seeding_loads_every_curated_mapping(sdb: Database) -> None:
    expected = {m.id: m for m in curated_mappings(load_catalog())}
    stored = {d["_id"]: d for d in sdb.search_synonyms.find()}
    assert set(stored) == set(expected)
    some = next(iter(expected.values()))
    assert {k: stored[some.id][k] for k in ("mappingType", "synonyms")} == {"mappingType": some.mappingType,
                                                                           "synonyms": some.synonyms}


@pytest.mark.anyio
async def test_a_query_using_a_curated_input_also_searches_its_catalog_phrase(seeded, sdb: Database) -> None:
    job = sdb.search_synonyms.find_one({"mappingType": "explicit", "input": "toilet keeps running"})
    async with Client(build_customer_sales(seeded, HEAD_OFFICE)) as client:
        out = await ok(client, "semantic_search_products", {"query_description": "my toilet keeps running",
                                                            "mode": "lexical"})
    assert job["synonyms"][0] in out["understood_as"]
    words = set(job["synonyms"][0].split())  # "toilet flapper": the products so named lead
    named = {p["sku"] for p in sdb.products.find({"deleted": False})
             if words <= set(p["product_name"].lower().split())}
    assert named and {p["sku"] for p in out["products"][:len(named)]} == named
    assert out["products"][0]["confidence"] == "high" and out["suggested_product_types"] == []


@pytest.mark.anyio
async def test_an_operators_new_mapping_is_used_without_a_restart(writable, wdb: Database) -> None:
    token = f"zzgadget{time.time_ns() % 1_000_000}"
    mallet = wdb.products.find_one({"product_name": {"$regex": "Rubber Mallet"}})["sku"]
    args = {"query_description": f"a {token} please", "mode": "lexical"}
    try:
        async with Client(build_customer_sales(writable, HEAD_OFFICE, read_only=True)) as client:
            before = await ok(client, "semantic_search_products", args)
            assert before["products"] == [] and before["confidence"] == "none"
            wdb.search_synonyms.insert_one({"_id": f"op_{token}", "mappingType": "explicit", "input": [token],
                                      "synonyms": ["rubber mallet"]})

            async def mallet_first() -> bool:
                out = await ok(client, "semantic_search_products", args)
                return bool(out["products"]) and out["products"][0]["sku"] == mallet

            assert await eventually(mallet_first), "the new mapping was not picked up"
            wdb.search_synonyms.delete_one({"_id": f"op_{token}"})

            async def gone() -> bool:
                return (await ok(client, "semantic_search_products", args))["products"] == []

            assert await eventually(gone), "the deleted mapping was still used"
    finally:
        wdb.search_synonyms.delete_one({"_id": f"op_{token}"})


@pytest.mark.anyio
async def test_without_a_change_stream_a_digest_check_picks_up_an_edit(writable, monkeypatch) -> None:
    monkeypatch.setattr(watched, "VERSION_CHECK_SECONDS", 0.0)
    client = await zdb.connect(writable)
    db = zdb.database(client, writable)
    synonyms = Collections(db).search_synonyms
    index = SynonymIndex(synonyms, use_change_stream=False)
    mapping_id = f"op_digest_{time.time_ns() % 1_000_000}"
    try:
        first = await index.get()
        assert index.refresh_rule == "version-check" and mapping_id not in {m.id for m in first.mappings}
        assert await index.get() is first  # unchanged: the same compiled table
        # An edit by hand, without updated_at: the digest still sees it.
        await synonyms.insert_one({"_id": mapping_id, "mappingType": "equivalent", "synonyms": ["a b", "c d"]})
        assert mapping_id in {m.id for m in (await index.get()).mappings}
    finally:
        await synonyms.delete_one({"_id": mapping_id})
        await index.close()
        await client.close()


@pytest.mark.anyio
async def test_no_good_answer_is_marked_suggests_types_and_is_counted_per_store(writable, wdb: Database) -> None:
    token = f"zzqx{time.time_ns() % 1_000_000}"
    nonsense = f"{token} unobtainium gizmo"
    empty = f"{token} vzzqk wqxxj"
    types_with_products = set(wdb.products.distinct("type_name", {"deleted": False}))
    try:
        async with Client(build_customer_sales(writable, TACOMA)) as tacoma:
            weak = await ok(tacoma, "semantic_search_products", {"query_description": nonsense})
            none = await ok(tacoma, "semantic_search_products", {"query_description": empty, "mode": "lexical"})
            clear = await ok(tacoma, "semantic_search_products", {"query_description": "rubber mallet"})
            await ok(tacoma, "semantic_search_products", {"query_description": nonsense.upper()})  # same query
        # A merchandiser reads the counts on the analysis server (as Tacoma's manager here).
        async with Client(build_sales_analysis(writable, TACOMA)) as merchandiser:

            async def both_counted() -> bool:
                misses = json.loads((await merchandiser.read_resource(MISSES)).contents[0].text)
                return {(m["query"], m["count"]) for m in misses["misses"]} >= {(nonsense, 2), (empty, 1)}

            assert await eventually(both_counted), "the misses were not counted"
            seen = json.loads((await merchandiser.read_resource(MISSES)).contents[0].text)["misses"]
        assert weak["confidence"] in {"low", "none"} and all(p["confidence"] == "low" for p in weak["products"])
        assert weak["suggested_product_types"] and set(weak["suggested_product_types"]) <= types_with_products
        assert none["confidence"] == "none" and none["products"] == [] and "rephrase" in none["meta"]["note"]
        assert clear["confidence"] == "high" and clear["suggested_product_types"] == []
        ours = {m["query"]: m for m in seen if m["query"].startswith(token)}
        assert set(ours) == {nonsense, empty}  # not the confident one
        assert ours[empty]["no_results"] == 1 and ours[nonsense]["store_id"] == "store_tacoma"
        # Scoped like every read: another store's manager does not see Tacoma's misses; head office does.
        async with Client(build_sales_analysis(writable, SEATTLE)) as seattle:
            theirs = json.loads((await seattle.read_resource(MISSES)).contents[0].text)["misses"]
        async with Client(build_sales_analysis(writable, HEAD_OFFICE)) as head_office:
            all_rows = json.loads((await head_office.read_resource(MISSES)).contents[0].text)
        assert not any(m["query"].startswith(token) for m in theirs)
        assert {m["query"] for m in all_rows["misses"] if m["query"].startswith(token)} == {nonsense, empty}
    finally:
        wdb.search_misses.delete_many({"query": {"$regex": f"^{token}"}})


def test_the_synonyms_command_restores_curated_mappings_keeps_an_operators_and_checks_them(
        writable, wdb: Database, tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MONGODB_", "ZAVA_", "OPENAI_", "AZURE_"))}
    env.update(PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
               MONGODB_URI=writable.mongodb_uri, MONGODB_DATABASE=writable.mongodb_database,
               ZAVA_DATA_DIR=str(tmp_path / "zava-data"))

    def seeding(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "seeding", "synonyms", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120, check=False)

    curated = next(m for m in curated_mappings(load_catalog()) if m.mappingType == "explicit")
    operator = {"_id": "op_cli_kept", "mappingType": "explicit", "input": ["zzthing"], "synonyms": ["mallet"]}
    broken = {"_id": "op_cli_broken", "mappingType": "explicit", "synonyms": ["mallet"]}  # no input
    try:
        wdb.search_synonyms.update_one({"_id": curated.id}, {"$set": {"synonyms": ["something else"]}})
        wdb.search_synonyms.insert_many([operator, broken])
        checked = seeding("--check")
        assert checked.returncode == 1 and "op_cli_broken" in checked.stderr and "input" in checked.stderr
        # --check writes nothing.
        assert wdb.search_synonyms.find_one({"_id": curated.id})["synonyms"] == ["something else"]
        wdb.search_synonyms.delete_one({"_id": "op_cli_broken"})
        loaded = seeding()
        assert loaded.returncode == 0, loaded.stderr
        assert "1 replaced" in loaded.stdout and "every mapping in search_synonyms is valid" in loaded.stdout
        assert wdb.search_synonyms.find_one({"_id": curated.id})["synonyms"] == curated.synonyms
        assert wdb.search_synonyms.find_one({"_id": "op_cli_kept"}) == operator
    finally:
        wdb.search_synonyms.delete_many({"_id": {"$in": ["op_cli_kept", "op_cli_broken"]}})
        wdb.search_synonyms.update_one({"_id": curated.id}, {"$set": {"synonyms": curated.synonyms}})
