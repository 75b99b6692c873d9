"""Responses are not held back by Nagle's algorithm: the HTTP protocol sets TCP_NODELAY on every connection,
whatever made the listening socket (socket.create_server gives proto 0, on which asyncio does not set it, and a
response written as headers then body then waited ~40 ms for the client's delayed ACK on every request)."""

from __future__ import annotations

import asyncio
import socket

import pytest
from uvicorn.server import ServerState

from mcp_servers.serving.http import HeaderDeadlineProtocol, uvicorn_config


async def _app(scope, receive, send) -> None:  # never called: no request is sent
    raise AssertionError("no request expected")


@pytest.mark.anyio
async def test_connections_get_tcp_nodelay() -> None:
    config = uvicorn_config(_app, "127.0.0.1", 0, "warning")
    config.load()
    made: list[HeaderDeadlineProtocol] = []

    def factory() -> HeaderDeadlineProtocol:
        protocol = HeaderDeadlineProtocol(config=config, server_state=ServerState(), app_state={})
        made.append(protocol)
        return protocol

    listener = socket.create_server(("127.0.0.1", 0))
    assert listener.proto == 0, "the case asyncio leaves without TCP_NODELAY"
    server = await asyncio.get_running_loop().create_server(factory, sock=listener)
    try:
        _, writer = await asyncio.open_connection(*listener.getsockname()[:2])
        for _ in range(100):
            if made and made[0].transport is not None:
                break
            await asyncio.sleep(0.01)
        accepted = made[0].transport.get_extra_info("socket")
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
