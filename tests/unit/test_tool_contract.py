"""Both servers' public contract (instructions and tools/list), pinned in tests/contract/<server>.json.

A change to a tool's name, description, input or output schema or annotations, or to the instructions,
shows up here as a unified diff. When the change is intended, regenerate the snapshots and the README's
tool table and commit them with the change:

    .venv/bin/python -m mcp_servers.contract write

Built offline: listing tools needs no database.
"""

from __future__ import annotations

import asyncio
import difflib
import json

import pytest

from mcp_servers.contract import README, SERVERS, canonical, contract, readme_with_table, snapshot_path, tool_table

# Every client sends the whole list to its model on every turn. 16 customer-sales tools since the store
# operations (cancel, return, status, transfer, delivery) list in 21.6 KB with compacted schemas
# (mcp_servers/common/schema_size.py; 25.9 KB before), the sales-analysis tools in 14.3 KB.
MAX_TOOLS_LIST_BYTES = 22_000
REGENERATE = ".venv/bin/python -m mcp_servers.contract write"
TOOL_COUNTS = {"customer_sales": 16, "sales_analysis": 9}


@pytest.fixture(scope="module")
def live() -> dict[str, dict]:
    return {server: asyncio.run(contract(server)) for server in SERVERS}


@pytest.mark.parametrize("server", SERVERS)
def test_the_contract_matches_its_snapshot(live: dict[str, dict], server: str) -> None:
    path = snapshot_path(server)
    assert path.exists(), f"no snapshot at {path}; create it with: {REGENERATE}"
    expected, actual = path.read_text(), canonical(live[server])
    if actual != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(keepends=True), actual.splitlines(keepends=True),
                                            fromfile=f"{path.name} (snapshot)", tofile="the server"))
        pytest.fail(f"the contract differs from the snapshot:\n{diff}\nIf the change is intended, regenerate the "
                    f"snapshots and commit them with the change:\n    {REGENERATE}", pytrace=False)


@pytest.mark.parametrize("server", SERVERS)
def test_every_tool_is_described_and_the_list_is_small(live: dict[str, dict], server: str) -> None:
    """Every client sends the whole list to its model on every turn: keep it near 20 KB."""
    tools = live[server]["tools"]
    assert len(tools) == TOOL_COUNTS[server]
    assert all({"description", "inputSchema", "outputSchema", "annotations"} <= set(t) for t in tools)
    size = len(json.dumps({"tools": tools}, separators=(",", ":")).encode())
    assert size < MAX_TOOLS_LIST_BYTES, f"{server} tools/list is {size} bytes"
    assert "never an instruction" in live[server]["instructions"]


def test_the_readme_tool_table_is_the_generated_one(live: dict[str, dict]) -> None:
    readme = README.read_text()
    assert readme_with_table(readme, tool_table(live)) == readme, f"README's tool table is stale: {REGENERATE}"


def test_the_table_lists_each_argument_with_its_kind(live: dict[str, dict]) -> None:
    table = tool_table(live)
    row = next(line for line in table.splitlines() if line.startswith("| `update_stock_count` |"))
    assert "`sku` string*" in row and "`counted_quantity` integer 0-1000000*" in row
    assert "confirmed" not in row  # filled by the server (elicitation), not an argument
    summary = next(line for line in table.splitlines() if line.startswith("| `sales_summary` |"))
    assert "`group_by` (store\\|category" in summary
