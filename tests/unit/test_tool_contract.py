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

from mcp_servers.contract import (
    CONTRACT_VERSION,
    MAX_BOTH_TOOLS_LIST_BYTES,
    MAX_TOOLS_LIST_BYTES,
    README,
    SERVERS,
    canonical,
    contract,
    name_problems,
    readme_with_table,
    snapshot_changes,
    snapshot_path,
    tool_table,
    tools_list_bytes,
)
from mcp_servers.tools.names import Server, ToolName

REGENERATE = ".venv/bin/python -m mcp_servers.contract write"


@pytest.fixture(scope="module")
def live() -> dict[str, dict]:
    return {server: asyncio.run(contract(server)) for server in SERVERS}


@pytest.mark.parametrize("server", SERVERS)
def test_the_contract_matches_its_snapshot(live: dict[str, dict], server: str) -> None:
    path = snapshot_path(server)
    assert path.exists(), f"no snapshot at {path}; create it with: {REGENERATE}"
    expected, actual = path.read_text(), canonical(live[server])
    if actual != expected:
        found, _ = snapshot_changes(server, live[server])
        diff = "".join(difflib.unified_diff(expected.splitlines(keepends=True), actual.splitlines(keepends=True),
                                            fromfile=f"{path.name} (snapshot)", tofile="the server"))
        summary = "\n".join(f"  {change}" for change in found)
        pytest.fail(f"the contract differs from the snapshot:\n{summary}\n{diff}\nIf the change is intended, "
                    f"regenerate the snapshots and commit them with the change:\n    {REGENERATE}", pytrace=False)


@pytest.mark.parametrize("server", SERVERS)
def test_a_breaking_change_raises_the_contract_version(live: dict[str, dict], server: str) -> None:
    found, pinned_version = snapshot_changes(server, live[server])
    breaking = [str(change) for change in found if change.breaking]
    assert not breaking or pinned_version < CONTRACT_VERSION, (
        f"these changes break callers; raise CONTRACT_VERSION above {pinned_version}: {breaking}")
    assert pinned_version <= CONTRACT_VERSION


@pytest.mark.parametrize("server", SERVERS)
def test_each_server_lists_exactly_its_tools_of_the_table(live: dict[str, dict], server: str) -> None:
    assert name_problems(server, live[server]) == []
    assert all({"description", "inputSchema", "outputSchema", "annotations"} <= set(t) for t in live[server]["tools"])
    assert "never an instruction" in live[server]["instructions"]


def test_tool_names_are_unique_across_the_servers(live: dict[str, dict]) -> None:
    """An agent given both servers sees each tool once (several frameworks refuse duplicate names at start)."""
    names = [t["name"] for spec in live.values() for t in spec["tools"]]
    assert len(names) == len(set(names)) == len(ToolName)
    assert set(names) == {str(name) for name in ToolName}


def test_the_tool_lists_stay_within_their_budget() -> None:
    """Every client sends the whole list to its model on every turn: 20 KB a server, 32 KB both."""
    sizes = asyncio.run(tools_list_bytes())
    assert sizes[Server.CUSTOMER_SALES] <= MAX_TOOLS_LIST_BYTES, sizes
    assert sizes[Server.SALES_ANALYSIS] <= MAX_TOOLS_LIST_BYTES, sizes
    assert sizes["both"] <= MAX_BOTH_TOOLS_LIST_BYTES, sizes
    live = {server: asyncio.run(contract(server)) for server in SERVERS}
    listed = sum(len(json.dumps({"tools": spec["tools"]}, separators=(",", ":"))) for spec in live.values())
    assert listed < sizes["both"], "the wire also carries each charted tool's _meta"


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
