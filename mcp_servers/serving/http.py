"""Serving over HTTP (Streamable HTTP at /mcp, SSE at /sse): the ASGI app and the uvicorn server.

We run uvicorn ourselves rather than through `MCPServer.run` for three things the SDK leaves out:
- a 401 that says what went wrong, as a JSON-RPC error, so MCP clients show it (the SDK's client falls back
  to "Server returned an error response" for any other body);
- a deadline on reading a request's headers, so slow-header connections cannot pile up (uvicorn has none);
- access lines without query strings (a token sent as `?access_token=` must not reach the log).

`--stateless` serves Streamable HTTP without server-side sessions and with JSON responses, so any replica
behind a load balancer can answer any request.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import re
import socket
from collections.abc import Callable
from typing import Any

import h11
import uvicorn
from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from mcp_servers.auth.bearer_tokens import REFUSAL, Refusal
from mcp_servers.serving.cors import Cors
from mcp_servers.serving.metrics import AUTH_FAILURES

MAX_BODY_BYTES = 1024 * 1024
HEADER_TIMEOUT_S = 10.0  # from connection (or the previous response) to a request's complete headers
UNAUTHORIZED = -32001  # a JSON-RPC server error code: the request was not authenticated


def http_app(server: MCPServer, transport: str, host: str, *, stateless: bool = False,
             security: TransportSecuritySettings | None = None) -> HttpApp:
    """The server's ASGI app for `transport` ("http" or "sse"), with our 401/403 bodies. `security` is the
    Host/Origin check (None: the SDK's, on for loopback hosts only); its origins are also the ones CORS allows."""
    if transport == "sse":
        app = server.sse_app(host=host, max_request_body_size=MAX_BODY_BYTES, transport_security=security)
    else:
        app = server.streamable_http_app(host=host, max_request_body_size=MAX_BODY_BYTES, transport_security=security,
                                         stateless_http=stateless, json_response=stateless)
    auth = server.settings.auth
    # With OAuth metadata published (ZAVA_AUTH=oidc) tokens come from the identity provider, not our CLI.
    issuer = str(auth.issuer_url) if auth is not None and auth.resource_server_url is not None else None
    hosts = list(security.allowed_hosts) if security is not None and security.enable_dns_rebinding_protection \
        else None
    return HttpApp(Cors(app, security.allowed_origins if security else ()), issuer=issuer, allowed_hosts=hosts)


def host_allowed(host: str | None, allowed: list[str]) -> bool:
    """The SDK's Host rule (an exact name, or `name:*` for any port), for the routes it does not guard; and any
    IP address, because DNS rebinding needs a name (the browser sends the attacker's), while the kubelet's probes
    and Prometheus reach /health and /metrics by the pod's IP. /mcp keeps the SDK's own, stricter check."""
    if not host:
        return False
    if host in allowed or any(pattern.endswith(":*") and host.startswith(pattern[:-1]) for pattern in allowed):
        return True
    name = host[1:host.index("]")] if host.startswith("[") and "]" in host else host.rsplit(":", 1)[0] \
        if host.count(":") == 1 else host
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def unauthorized_reason(headers: list[tuple[bytes, bytes]], issuer: str | None = None) -> str:
    """What a 401 means for a request with these headers, and what to do."""
    sent = next((value.decode("latin-1") for key, value in headers if key.lower() == b"authorization"), None)
    if sent is None:
        where = f"sign in with {issuer}" if issuer else \
            "issue one with: python -m mcp_servers.tokens issue --store STORE"
        return f"authentication required: send the header 'Authorization: Bearer <token>' ({where})"
    if not sent.lower().startswith("bearer "):
        return "the Authorization header must read 'Bearer <token>'"
    if issuer:  # tokens come from the identity provider (ZAVA_AUTH=oidc), not from our CLI
        return f"invalid or expired token: get a new one from the identity provider ({issuer})"
    return "invalid or expired token: check it, or issue a new one (python -m mcp_servers.tokens issue)"


class HttpApp:
    """The SDK's app, with three changes at the edge.

    - The body of every 401 becomes a JSON-RPC error naming the reason; the status and the
      `WWW-Authenticate` header (what OAuth-aware clients read) are kept.
    - The Host allow-list (`allowed_hosts`, from the transport security settings) applies to every route
      (IP addresses aside, see `host_allowed`): the SDK checks it on /mcp and /sse only, and /health and
      /metrics answered any Host, a rebinding page's included.
    - A failure while starting (the lifespan: an unreachable database, say) is kept in `startup_error`
      instead of being logged as a traceback by uvicorn, so the runner can say it in one line.
    """

    def __init__(self, app: ASGIApp, *, issuer: str | None = None, allowed_hosts: list[str] | None = None) -> None:
        self.app = app
        self.issuer = issuer
        self.allowed_hosts = allowed_hosts
        self.startup_error: BaseException | None = None
        self.on_started: list[Callable[[], object]] = []  # run once the app is ready to serve (the runner says where)
        # Run once the app has shut down, before uvicorn re-raises SIGTERM and the process dies without atexit
        # (the runner flushes the spans still buffered for the OTLP exporter here).
        self.on_shutdown: list[Callable[[], object]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def without_traceback(message: Message) -> None:
            if message["type"] == "lifespan.startup.failed":
                message = {**message, "message": ""}  # uvicorn logs this text: the traceback
            if message["type"] == "lifespan.startup.complete":
                for step in self.on_started:
                    step()
            if message["type"] == "lifespan.shutdown.complete":
                for step in self.on_shutdown:
                    step()
            await send(message)

        try:
            await self.app(scope, receive, without_traceback)
        except BaseException as exc:
            self.startup_error = exc
            raise

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.allowed_hosts is not None:
            host = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k.lower() == b"host"), None)
            if not host_allowed(host, self.allowed_hosts):
                await _misdirected(send)
                return
        replacing = False
        refusal = Refusal()  # the token verifier notes here why it refused this request's token
        REFUSAL.set(refusal)

        async def send_explained(message: Message) -> None:
            nonlocal replacing
            if message["type"] == "http.response.start" and message["status"] == 401:
                replacing = True
                reason = refusal.reason or unauthorized_reason(scope.get("headers", []), self.issuer)
                AUTH_FAILURES.labels(_failure_kind(scope.get("headers", []), refusal)).inc()
                if refusal.forbidden:  # a valid token naming no identity we serve
                    message = {**message, "status": 403}
                body = _error_body(reason)
                kept = [(k, v) for k, v in message.get("headers", [])
                        if k.lower() not in (b"content-length", b"content-type")]
                headers = [(k, _described(v, reason, refusal.forbidden) if k.lower() == b"www-authenticate" else v)
                           for k, v in kept]
                headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
                await send({**message, "headers": headers})
                await send({"type": "http.response.body", "body": body, "more_body": False})
                return
            if replacing:
                return  # the original body, already replaced
            await send(message)

        await self.app(scope, receive, send_explained)


async def _misdirected(send: Send) -> None:
    """421, as the SDK answers another Host on /mcp: here for every route (/health, /metrics, metadata)."""
    body = b"Invalid Host header"
    await send({"type": "http.response.start", "status": 421,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _failure_kind(headers: list[tuple[bytes, bytes]], refusal: Refusal) -> str:
    if refusal.forbidden:
        return "forbidden"
    if not any(key.lower() == b"authorization" for key, _ in headers):
        return "missing"
    return "invalid"


def _described(challenge: bytes, reason: str, forbidden: bool = False) -> bytes:
    """The `WWW-Authenticate` challenge with our reason as its error_description (RFC 6750: a 403 is
    `insufficient_scope`)."""
    quoted = reason.replace('"', "'").replace("\\", "/")
    text = re.sub(r'error_description="[^"]*"', lambda _: f'error_description="{quoted}"', challenge.decode("latin-1"))
    if forbidden:
        text = text.replace('error="invalid_token"', 'error="insufficient_scope"')
    return text.encode("latin-1", errors="replace")


def _error_body(reason: str) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": None, "error": {"code": UNAUTHORIZED, "message": reason}}).encode()


class HeaderDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's headers (a slow-header connection is
    closed), armed when the connection opens and after every response."""

    _header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # asyncio sets TCP_NODELAY only on sockets made with proto=IPPROTO_TCP, and a listener from
        # socket.create_server (ours, uvicorn's) has proto 0: without it a response written in two parts
        # (headers, body) waits for the client's delayed ACK, ~40 ms on every request (measured: /health 44 ms).
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the request line and headers are in
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._header_deadline = self.loop.call_later(HEADER_TIMEOUT_S, self._too_slow)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _too_slow(self) -> None:
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


class WithoutQueryStrings(logging.Filter):
    """Access lines show the path only: query strings may carry tokens or personal data."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


def uvicorn_config(app: ASGIApp, host: str, port: int, log_level: str, **options: Any) -> uvicorn.Config:
    options = {"lifespan": "on", **options}
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level.lower(), http=HeaderDeadlineProtocol,
                            **options)
    access = logging.getLogger("uvicorn.access")  # configured by Config(): add ours after it
    if not any(isinstance(f, WithoutQueryStrings) for f in access.filters):
        access.addFilter(WithoutQueryStrings())
    return config


def serve(app: HttpApp, host: str, port: int, log_level: str, **options: Any) -> None:
    """Serve until stopped. Raises what kept the server from starting: OSError for the port, or the
    lifespan's own error. `options` go to uvicorn (`log_config=None` leaves logging to ours: JSON lines)."""
    # Bound here, so a port in use is an OSError for the runner rather than uvicorn's log line and exit.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.create_server((host, port), family=family)
    try:
        uvicorn.Server(uvicorn_config(app, host, port, log_level, **options)).run(sockets=[listener])
    except SystemExit:
        if app.startup_error is not None:
            raise app.startup_error from None
        raise
    finally:
        listener.close()
