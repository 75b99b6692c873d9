"""Browser tests: the views rendered by headless Chromium inside an MCP Apps host page built on the official
host library (AppBridge), fed by a real sales-analysis server.

- Chromium is the Debian package `chromium` (`.ci/run` installs it); `ZAVA_CHROMIUM` may name another binary.
- The host page's npm packages (pinned in apphost/package.json and its lock file) are installed on first use
  (`npm ci --prefix tests/browser/apphost`, under a lock; `.ci/run` runs it too).
- Without either, these tests skip and say why.
- The server (`python -m mcp_servers.sales_analysis --transport http`, launched as a user launches it) serves
  a `small` dataset of the session's own, in which a few counts were lowered through the customer-sales
  tool `update_stock_count` so the stock view has items in each state the data allows.
- Screenshots go to `ZAVA_SCREENSHOT_DIR` when set (`ZAVA_SCREENSHOT_DIR=docs/screenshots` refreshes the
  README's), else to pytest's temporary directory.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2
import pytest
from browser_cdp import find_chromium
from live_server import LiveServer
from mcp import Client
from pymongo import MongoClient
from seeded_data import drop_after, seed_small
from serving import stop_process
from view_harness import Harness, build_host_bundle

from mcp_servers.auth.bearer_tokens import TokenStore
from mcp_servers.customer_sales.server import build_server as build_customer_sales
from zava_core.infra.config import Settings
from zava_core.scope import Identity

CHART_DATABASE = "zava_test_charts"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        pytest.skip("no Chromium found: install the Debian package (apt-get install -y chromium) or set ZAVA_CHROMIUM")
    return path


@pytest.fixture(scope="session")
def host_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    bundle = build_host_bundle(tmp_path_factory.mktemp("apphost"))
    if isinstance(bundle, str):
        pytest.skip(bundle)
    return bundle


@pytest.fixture(scope="session")
def harness(chromium: str, host_bundle: Path) -> Iterator[Harness]:
    with Harness(chromium, host_bundle) as running:
        yield running


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("ZAVA_SCREENSHOT_DIR")
    return Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")


# Counts lowered before the server starts: the best sellers of the demand window (7 units in its 92 days, the
# most any store sells of one product at this scale) to one unit, which is 13 days of cover ("low"), and one
# of them to nothing ("out of stock"). A `small` dataset sells too little for "critical" (it would take 14).
LOWERED = (("store_seattle", "PLPI000502", 1), ("store_online", "HTPL000003", 1), ("store_online", "PFRL000004", 0))


@pytest.fixture(scope="session")
def chart_data(mongo_uri: str) -> Iterator[Settings]:
    """A `small` dataset of the charts' own (the lowered counts must not reach the suites on `seeded`, `writable`
    or `scratch`)."""
    settings = seed_small(mongo_uri, CHART_DATABASE)

    async def lower() -> None:
        async with Client(build_customer_sales(settings, Identity(head_office=True))) as client:
            for store, sku, count in LOWERED:
                done = await client.call_tool("update_stock_count",
                                              {"sku": sku, "store": store, "counted_quantity": count})
                assert not done.is_error, done.content

    try:
        anyio.run(lower)
        yield settings
    finally:
        with MongoClient(mongo_uri) as mongo:
            drop_after(mongo, CHART_DATABASE)


@pytest.fixture(scope="session")
def chart_server(chart_data: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The analysis server over Streamable HTTP, started as a user starts it (a default environment plus what
    it needs), with a head-office and a Seattle token."""
    home = tmp_path_factory.mktemp("chart-server")
    tokens = TokenStore(home / "tokens.json")
    head_office, seattle = (tokens.issue(identity)[1] for identity in
                            (Identity(head_office=True), Identity(head_office=False, store="seattle")))
    port = free_port()
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "ZAVA_DATA_DIR": str(home / "data"),
           "MONGODB_URI": chart_data.mongodb_uri, "MONGODB_DATABASE": chart_data.mongodb_database,
           "ZAVA_TOKENS_FILE": str(home / "tokens.json"), "ZAVA_LOG_LEVEL": "WARNING"}
    log = (home / "server.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "mcp_servers.sales_analysis", "--transport", "http",
                                "--port", str(port)], env=env, cwd=REPO, stdin=subprocess.DEVNULL,
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"the analysis server did not start: {(home / 'server.log').read_text()[-500:]}")
            try:
                if httpx2.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx2.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the analysis server did not answer /health within 60 s")
            time.sleep(0.2)
        yield LiveServer(f"http://127.0.0.1:{port}/mcp", head_office, seattle)
    finally:
        stop_process(process, timeout=15)
        log.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
