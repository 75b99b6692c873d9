"""One serving harness for the HTTP tests: an ASGI app on uvicorn, configured as the runner configures it
(`mcp_servers.serving.http.uvicorn_config`), inside the test's own event loop, on a port bound here."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import uvicorn

from mcp_servers.serving.http import uvicorn_config

HOST = "127.0.0.1"


@asynccontextmanager
async def serving(app: Any, *, log_level: str = "warning", **options: Any) -> AsyncIterator[str]:
    """Serve `app` until the block ends; yields its base URL. The socket is bound before uvicorn starts, so
    there is no race for a free port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((HOST, 0))
    port = sock.getsockname()[1]
    web = uvicorn.Server(uvicorn_config(app, HOST, port, log_level, **options))
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(web.serve, [sock])
            with anyio.fail_after(30):
                while not web.started:
                    await anyio.sleep(0.02)
            try:
                yield f"http://{HOST}:{port}"
            finally:
                web.should_exit = True
    finally:
        sock.close()


def stop_process(process: subprocess.Popen, timeout: float = 30.0) -> None:
    """End a server or engine a test launched: SIGTERM (its graceful exit), then SIGKILL past `timeout`."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)
