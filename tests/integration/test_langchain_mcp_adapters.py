"""LangChain's `langchain-mcp-adapters` over both servers, in its default configuration (MultiServerMCPClient).

Its releases pin the MCP SDK below 2 (0.3.2: `mcp>=1.24,<2`; 0.3.1 allowed 2.x but fails at import with it),
so it cannot share a venv with the servers. It runs where its users run it: in a venv of its own, created here
from PyPI with pinned versions (kept in .venvs/ and reused while the pins stay the same), connecting over
Streamable HTTP to both servers served by this test with a bearer token. An MCP SDK 1.x client is also what
many deployed agents still use: the servers answer it on the 2025-11-25 protocol revision.
"""

from __future__ import annotations

import json
import subprocess
import venv
from pathlib import Path

import anyio
import pytest
from two_servers import ALL_TOOLS, INVENTORY_CALL, SUMMARY_CALL, both_servers, check, payload

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

ROOT = Path(__file__).resolve().parents[2]
PINS = ("langchain-mcp-adapters==0.3.2", "langchain-core==1.8.3", "mcp==1.30.0")
VENV = ROOT / ".venvs" / "langchain-mcp-adapters"
CLIENT = ROOT / "tests" / "frameworks" / "langchain_adapters_client.py"


def adapters_python() -> Path:
    """The venv's python, created (or re-created when the pins change) with the pinned packages from PyPI."""
    python, marker = VENV / "bin" / "python", VENV / "pins.txt"
    if python.exists() and marker.exists() and marker.read_text() == "\n".join(PINS):
        return python
    venv.EnvBuilder(clear=True, with_pip=True).create(VENV)
    done = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *PINS],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"could not install {PINS} from PyPI: {done.stderr[-2000:]}"
    marker.write_text("\n".join(PINS))
    return python


async def test_langchain_mcp_adapters_in_its_own_venv(seeded, sdb, raw, tmp_path) -> None:
    python = await anyio.to_thread.run_sync(adapters_python)
    async with both_servers(seeded, tmp_path) as running:
        request = {"servers": {server.value: {"url": url, "token": running.token}
                               for server, url in running.urls.items()},
                   "calls": [list(INVENTORY_CALL), list(SUMMARY_CALL)]}
        done = await anyio.run_process([str(python), str(CLIENT), json.dumps(request)], check=False)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    answer = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert set(answer["tools"]) == ALL_TOOLS  # the default configuration: names as the servers give them
    inventory, summary = (payload(text) for text in answer["results"])
    check(inventory, summary, sdb, raw)
