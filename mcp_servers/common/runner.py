"""Command line and transports shared by both servers.

    python -m mcp_servers.customer_sales [--transport stdio|http|sse] [--host H] [--port P]
                                         [--store seattle | --head-office] [--read-only]

stdio (Claude Desktop): the identity comes from the launch (--store / --head-office, or ZAVA_STORE /
ZAVA_HEAD_OFFICE); with none the server exits at start. HTTP and SSE: every request needs a bearer
token from the tokens file; binding beyond loopback without tokens refuses to start.
"""

import argparse
import errno
import ipaddress
import logging
import sys
from collections.abc import Callable

from mcp.server import MCPServer
from mcp.server.auth.settings import AuthSettings
from starlette.requests import Request
from starlette.responses import JSONResponse

from mcp_servers.common.auth import Identity, StoreTokenVerifier, TokenStore
from mcp_servers.common.http import MAX_BODY_BYTES, http_app, serve
from zava_core.errors import ZavaError
from zava_core.infra.config import Settings
from zava_core.infra.redaction import install_log_redaction, redact, settings_secrets

ServerFactory = Callable[..., MCPServer]
__all__ = ["MAX_BODY_BYTES", "build_for_transport", "http_app", "main"]


def _parser(name: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m mcp_servers.{name}")
    parser.add_argument("--transport", choices=["stdio", "http", "sse"], default="stdio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--store", help="serve as the manager of this store (stdio)")
    who.add_argument("--head-office", action="store_true", help="serve as head office: every store (stdio)")
    parser.add_argument("--read-only", action="store_true", help="leave the writing tools out")
    return parser


def launch_identity(args: argparse.Namespace, settings: Settings) -> Identity | None:
    if args.head_office or (not args.store and settings.head_office):
        return Identity(head_office=True)
    store = args.store or settings.store
    return Identity(head_office=False, store=store) if store else None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def add_health_route(server: MCPServer) -> None:
    @server.custom_route("/health", methods=["GET"])
    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "server": server.name})


def build_for_transport(factory: ServerFactory, settings: Settings, args: argparse.Namespace) -> MCPServer:
    """The server as configured by the command line; raises SystemExit with a one-line reason."""
    read_only = args.read_only or settings.read_only
    if args.transport == "stdio":
        identity = launch_identity(args, settings)
        if identity is None:
            raise SystemExit("error: no identity: start with --store STORE or --head-office "
                             "(or set ZAVA_STORE / ZAVA_HEAD_OFFICE=1)")
        return factory(settings, identity, read_only=read_only)
    if args.store or args.head_office:
        raise SystemExit("error: --store/--head-office apply to stdio; HTTP callers identify with bearer tokens "
                         "(python -m mcp_servers.tokens issue --store seattle)")
    store = TokenStore(settings.tokens_path)
    if not store.has_tokens():
        if not is_loopback(args.host):
            raise SystemExit(f"error: refusing to listen on {args.host} without tokens: issue one with "
                             "python -m mcp_servers.tokens issue --store STORE")
        logging.getLogger("zava.mcp").warning("no tokens in %s: every request will be refused (401)", store.path)
    server = factory(settings, None, read_only=read_only, auth=_auth(args), token_verifier=StoreTokenVerifier(store))
    add_health_route(server)
    return server


def _auth(args: argparse.Namespace) -> AuthSettings:
    # Static bearer tokens: we are our own issuer and publish no OAuth metadata.
    host = f"[{args.host}]" if ":" in args.host else args.host  # IPv6 literals go in brackets in a URL
    return AuthSettings(issuer_url=f"http://{host}:{args.port}", resource_server_url=None,
                        validate_token_resource=False, required_scopes=["zava"])


def main(name: str, factory: ServerFactory, argv: list[str] | None = None) -> int:
    """Run a server until it is stopped; a start-up failure is one line on stderr and exit status 1 or 2.

    On stdio the client (Claude Desktop, the Inspector) shows the launched server's stderr, so a failure
    raised inside the lifespan (an unknown store, an empty or unreachable database) must reach it as the
    one line that says what to do, not as anyio's ExceptionGroup traceback.
    """
    args = _parser(name).parse_args(sys.argv[1:] if argv is None else argv)
    settings: Settings | None = None
    try:
        settings = Settings.from_env()
        # Logs go to stderr: on stdio, stdout carries the protocol.
        logging.basicConfig(level=settings.log_level, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        install_log_redaction(settings)
        server = build_for_transport(factory, settings, args)
        if args.transport == "stdio":
            server.run("stdio")
        else:
            serve(http_app(server, args.transport, args.host), args.host, args.port, settings.log_level)
    except KeyboardInterrupt:
        return 0
    except SystemExit as exc:
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
            return 2
        raise
    except BaseException as exc:
        cause = _first_cause(exc)
        if isinstance(cause, KeyboardInterrupt):
            return 0
        print(f"error: {_one_line(cause, settings)}", file=sys.stderr)
        return 2 if isinstance(cause, ZavaError) else 1
    return 0


def _first_cause(exc: BaseException) -> BaseException:
    """The failure inside anyio's (nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _one_line(exc: BaseException, settings: Settings | None) -> str:
    if isinstance(exc, ZavaError):
        text = str(exc)
    elif isinstance(exc, OSError) and exc.errno in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
        text = f"{exc.strerror or exc}: pick another --host/--port, or stop what uses it"
    elif isinstance(exc, OSError):
        text = f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
    else:
        text = f"unexpected {type(exc).__name__}: {exc}"
    text = " ".join(text.split())
    return redact(text, settings_secrets(settings) if settings else ())[:500]
