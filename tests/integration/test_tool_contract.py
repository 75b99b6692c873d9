"""The tools/list contract of the customer-sales server, pinned in tests/contract/customer_sales_tools.json.

A change to a tool's name, description, input or output schema or annotations shows up here as a
unified diff. When the change is intended, regenerate the snapshot and commit it with the change:

    ZAVA_UPDATE_CONTRACT=1 .venv/bin/python -m pytest tests/integration/test_tool_contract.py
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

import pytest
from mcp import Client

from mcp_servers.common.tokens import Identity
from mcp_servers.customer_sales.server import build_server

pytestmark = pytest.mark.integration

SNAPSHOT = Path(__file__).resolve().parents[1] / "contract" / "customer_sales_tools.json"
FIELDS = ("name", "description", "inputSchema", "outputSchema", "annotations")
MAX_TOOLS_LIST_BYTES = 20_000
REGENERATE = "ZAVA_UPDATE_CONTRACT=1 .venv/bin/python -m pytest tests/integration/test_tool_contract.py"


def canonical(value) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


async def tools_list(settings):
    async with Client(build_server(settings, Identity(head_office=False, store="seattle"))) as client:
        return await client.list_tools()


@pytest.mark.anyio
async def test_tools_list_matches_the_snapshot(seeded) -> None:
    result = await tools_list(seeded)
    wire = [tool.model_dump(by_alias=True, exclude_none=True, mode="json") for tool in result.tools]
    contract = sorted(({f: tool[f] for f in FIELDS if f in tool} for tool in wire), key=lambda t: t["name"])
    assert all(set(tool) == set(FIELDS) for tool in contract), "every tool has a description, schemas and hints"
    actual = canonical(contract)
    if os.environ.get("ZAVA_UPDATE_CONTRACT") == "1":
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(actual)
    assert SNAPSHOT.exists(), f"no snapshot at {SNAPSHOT}; create it with: {REGENERATE}"
    expected = SNAPSHOT.read_text()
    if actual != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(keepends=True), actual.splitlines(keepends=True),
                                            fromfile=f"{SNAPSHOT.name} (snapshot)", tofile="tools/list (server)"))
        pytest.fail(f"tools/list differs from the snapshot:\n{diff}\nIf the change is intended, regenerate the "
                    f"snapshot and commit it with the change:\n    {REGENERATE}", pytrace=False)


@pytest.mark.anyio
async def test_tools_list_is_small(seeded) -> None:
    """Every client sends the whole list to its model on every turn: keep it under 20 KB."""
    result = await tools_list(seeded)
    size = len(result.model_dump_json(by_alias=True, exclude_none=True).encode())
    assert len(result.tools) == 11
    assert size < MAX_TOOLS_LIST_BYTES, f"tools/list is {size} bytes"


def test_the_snapshot_is_canonical_and_sorted() -> None:
    """The committed file is what the generator writes: sorted by name, canonical JSON, indent 2."""
    text = SNAPSHOT.read_text()
    contract = json.loads(text)
    assert text == canonical(contract)
    names = [tool["name"] for tool in contract]
    assert names == sorted(names) and len(set(names)) == len(names)
