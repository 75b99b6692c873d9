"""Benchmarks measure a server once its lookups answer from memory, and say how long loading took.

A server answers at once, from the database, until its read models are loaded: each loads on its first use (the
order book takes seconds at the default scale); timing it then would measure the start, not the server. So the
benchmarks start every load and wait: in process on the server's `startup` (mcp_servers/runtime/startup.py), over
HTTP on /health's `ready` (the same object's report) after a first lookup per model.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import httpx2

from zava_core.readmodels import MODELS

READY_TIMEOUT_SECONDS = 900.0  # full scale on a busy 2-core machine takes minutes


class NotReady(RuntimeError):
    pass


def describe(report: dict[str, Any]) -> str:
    """One line: ready after N s (stock 0.2 s, customers 1.1 s, orders 5.3 s)."""
    models = ", ".join(f"{name} {seconds:.1f} s" if isinstance(seconds, int | float)
                       else f"{name} {seconds or 'not loaded'}"
                       for name, seconds in (report.get("read_models") or {}).items())
    after = report.get("ready_after_seconds")
    head = f"ready after {after:.1f} s" if after is not None else f"NOT ready after {report.get('up_seconds')} s"
    return f"{head} (read models: {models or 'none'}; feed {report.get('feed')})"


async def in_process(server: Any, label: str, timeout: float = READY_TIMEOUT_SECONDS,
                     uses: tuple[str, ...] = MODELS) -> dict[str, Any]:
    """Wait until an in-process server (its Client already open) is ready with the read models it follows among
    `uses` loaded (each loads on its first use, as a first lookup would start it); print and return its report."""
    deadline = time.monotonic() + timeout
    used = False
    while True:
        startup = getattr(server, "startup", None)
        if startup is not None and startup.ready_after is not None and not used:
            for name in uses:
                startup.zava.models.use(name)
            used = True
        if used and startup.ready():
            break
        if time.monotonic() > deadline:
            report = startup.report() if startup is not None else {}
            raise NotReady(f"{label}: {describe(report)}")
        await asyncio.sleep(0.05)
    report = startup.report()
    print(f"{label}: {describe(report)}", file=sys.stderr, flush=True)
    return report


async def over_http(base: str, label: str, alive: Any = None, timeout: float = READY_TIMEOUT_SECONDS) -> dict:
    """Poll `base`/health until it says ready; `alive()` False (the server process exited) stops the wait."""
    deadline = time.monotonic() + timeout
    report: dict[str, Any] = {}
    async with httpx2.AsyncClient(timeout=5) as http:
        while time.monotonic() < deadline:
            if alive is not None and not alive():
                raise NotReady(f"{label}: the server exited before it was ready")
            try:
                response = await http.get(f"{base}/health")
                if response.status_code == 200:
                    report = response.json()
                    if report.get("ready"):
                        print(f"{label}: {describe(report)}", file=sys.stderr, flush=True)
                        return report
            except httpx2.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise NotReady(f"{label}: {describe(report)}")
