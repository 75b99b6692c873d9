"""Browser tests: the views rendered by headless Chromium inside a fake MCP Apps host page.

Chromium is the Debian package `chromium` (`.ci/run` installs it); `ZAVA_CHROMIUM` may name another
binary. Without any, these tests skip and say why. Screenshots go to `ZAVA_SCREENSHOT_DIR` when set
(`ZAVA_SCREENSHOT_DIR=docs/screenshots` refreshes the README's), else to pytest's temporary directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_cdp import find_chromium
from view_harness import Harness


@pytest.fixture(scope="session")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        pytest.skip("no Chromium found: install the Debian package (apt-get install -y chromium) or set ZAVA_CHROMIUM")
    return path


@pytest.fixture(scope="session")
def harness(chromium: str) -> Iterator[Harness]:
    with Harness(chromium) as running:
        yield running


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("ZAVA_SCREENSHOT_DIR")
    return Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
