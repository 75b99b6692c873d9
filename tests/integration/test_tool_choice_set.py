"""The tool-choice evaluation set (tests/data/tool_choice.json), without a model.

- It holds at least 150 cases from the four personas, each with a user message, an identity and the calls a
  good agent makes.
- Every expected call (alternatives included) is valid against today's contract: a tool one of the servers
  lists, arguments its input schema accepts (and no others: the servers refuse unknown ones); the names a
  case lets vary are arguments of that tool.
- Every expected call runs on the small dataset without error, as the case's identity: reading cases on the
  shared dataset, writing cases on a dataset (and an engine) of this module's own.
- For the analysis cases with a key figure (at least 40), the figure the tool returns equals one computed
  here from the order lines, with plain Python sums (and stock figures from the inventory documents).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import AsyncExitStack
from typing import Any

import jsonschema
import pytest
from mcp import Client
from pymongo import MongoClient
from seeded_data import drop_after, seed_small

from bench.tool_choice import PERSONAS, Case, load_cases, pick_figure
from mcp_servers.contract import SERVERS, contract
from mcp_servers.tools.table import BY_NAME
from zava_core.infra.config import Settings
from zava_core.scope import Identity

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

CASES = load_cases()
ANALYSIS_TOOLS = {"sales_summary", "sales_trend", "seasonal_profile", "inventory_health"}


@pytest.fixture(scope="module")
def schemas() -> dict[str, dict[str, Any]]:
    import asyncio

    return {t["name"]: t["inputSchema"] for server in SERVERS for t in asyncio.run(contract(server))["tools"]}


def test_the_set_covers_the_four_personas() -> None:
    counts = Counter(case.persona for case in CASES)
    assert len(CASES) >= 150 and set(counts) == set(PERSONAS) and min(counts.values()) >= 30, counts
    assert len({case.id for case in CASES}) == len(CASES)
    figures = [c for c in CASES if c.figure and c.figure["metric"] != "stock_level"]
    assert len(figures) >= 40 and all(c.calls[c.figure["call"]].tool in ANALYSIS_TOOLS for c in figures)
    for case in CASES:
        Identity.parse(case.identity)  # head-office or store:<name>
        assert case.message.strip() and case.calls


def test_every_expected_call_is_valid_against_the_contract(schemas: dict[str, dict[str, Any]]) -> None:
    for case in CASES:
        for sequence in case.sequences:
            for call in sequence:
                assert call.tool in schemas, f"{case.id}: no server offers {call.tool}"
                schema = schemas[call.tool]
                strict = {**schema, "additionalProperties": False}  # the servers refuse unknown arguments
                try:
                    jsonschema.validate(call.arguments, strict)
                except jsonschema.ValidationError as exc:
                    pytest.fail(f"{case.id}: {call.tool}{call.arguments}: {exc.message}")
                unknown = call.vary - set(schema.get("properties", {}))
                assert not unknown, f"{case.id}: {call.tool} has no argument {sorted(unknown)}"


async def run_cases(settings: Settings, cases: list[Case]) -> dict[str, list[list[Any]]]:
    """Each case's call sequences run as its identity: the results, per sequence and call."""
    out: dict[str, list[list[Any]]] = {}
    async with AsyncExitStack() as stack:
        clients: dict[tuple[str, str], Client] = {}

        async def client(tool: str, identity: str) -> Client:
            server = BY_NAME[tool].server  # type: ignore[index]
            if (server, identity) not in clients:
                built = SERVERS[server](settings, Identity.parse(identity))
                clients[server, identity] = await stack.enter_async_context(Client(built))
            return clients[server, identity]

        for case in cases:
            out[case.id] = []
            for sequence in case.sequences:
                results = []
                for call in sequence:
                    result = await (await client(call.tool, case.identity)).call_tool(call.tool, call.arguments)
                    text = result.content[0].text if result.content else ""
                    assert not result.is_error, f"{case.id}: {call.tool}{call.arguments} failed: {text[:300]}"
                    results.append(result.structured_content)
                out[case.id].append(results)
    return out


@pytest.fixture(scope="module")
async def read_results(seeded: Settings) -> dict[str, list[list[Any]]]:
    return await run_cases(seeded, [case for case in CASES if not case.writes])


@pytest.fixture(scope="module")
def own_dataset(bulk_uri: str) -> Iterator[Settings]:
    """A fresh `small` dataset of this module's own, on the bulk engine: the writing cases name fixed orders and
    stock (cancel this order, count that shelf), which the shared write datasets' suites may already have changed;
    and a dataset seeded on the shared engine would lengthen the change history the shared datasets' feeds read
    when they resume (`bulk_uri` in tests/conftest.py)."""
    settings = seed_small(bulk_uri, "zava_test_tool_choice")
    try:
        yield settings
    finally:
        with MongoClient(bulk_uri) as client:
            drop_after(client, settings.mongodb_database)


async def test_every_reading_case_runs_on_the_small_dataset(read_results) -> None:
    assert len(read_results) == sum(not case.writes for case in CASES) >= 100


async def test_every_writing_case_runs_on_a_fresh_small_dataset(own_dataset: Settings) -> None:
    writing = [case for case in CASES if case.writes]
    assert len(writing) >= 30
    done = await run_cases(own_dataset, writing)
    assert len(done) == len(writing)


def line_truth(raw: dict, where: dict[str, Any], metric: str) -> float:
    """A metric over the order lines matching `where`, summed here in plain Python (not through the rollup)."""
    categories = {cid for cid, name in raw["categories"].items() if name in set(where.get("categories", ()))}
    types, skus = set(where.get("product_types", ())), set(where.get("skus", ()))
    start, end = where.get("start", "0000-00-00") + "T00:00:00Z", where.get("end", "9999-12-31") + "T23:59:59Z"
    revenue = cost = discount = units = 0.0
    orders: set[str] = set()
    for line in raw["lines"]:
        product = raw["products"][line["product_id"]]
        if not start <= line["order_date"] <= end or ("stores" in where and line["store_id"] not in where["stores"]) \
                or (categories and line["category_id"] not in categories) \
                or (types and product["type_name"] not in types) or (skus and product["sku"] not in skus):
            continue
        revenue += line["total_amount"]
        cost += line["unit_cost"] * line["quantity"]
        discount += line["discount_amount"]
        units += line["quantity"]
        orders.add(line["order_id"])
    return {"revenue": revenue, "units": units, "orders": len(orders), "discount_total": discount,
            "gross_margin": revenue - cost, "gross_margin_percent": (revenue - cost) / revenue * 100 if revenue else 0,
            "average_order_value": revenue / len(orders) if orders else 0}[metric]


async def test_key_figures_equal_an_independent_computation(read_results, raw: dict, sdb) -> None:
    checked: dict[str, int] = defaultdict(int)
    for case in CASES:
        if not case.figure or case.writes:
            continue
        figure = case.figure
        result = read_results[case.id][0][figure["call"]]
        found = pick_figure(figure, result)
        assert found is not None, f"{case.id}: no {figure['pick']} in the {case.calls[figure['call']].tool} result"
        if figure["metric"] == "stock_level":
            (sku,) = figure["where"]["skus"]
            truth = sdb.inventory.find_one({"store_id": figure["pick"]["stock"], "sku": sku})["stock_level"]
            assert found == truth, case.id
        else:
            truth = line_truth(raw, figure["where"], figure["metric"])
            tolerance = 0 if figure["metric"] in ("units", "orders") else 0.011
            assert found == pytest.approx(truth, abs=tolerance), (case.id, figure)
        checked[case.calls[figure["call"]].tool] += 1
    assert sum(n for tool, n in checked.items() if tool in ANALYSIS_TOOLS) >= 40, checked
