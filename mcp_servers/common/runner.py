"""Command line and transports shared by both servers.

    python -m mcp_servers.customer_sales [--transport stdio|http|sse] [--host H] [--port P]
                                         [--store seattle | --head-office] [--read-only]

stdio (Claude Desktop): the identity comes from the launch (--store / --head-office, or ZAVA_STORE /
ZAVA_HEAD_OFFICE); with none the server exits at start. HTTP and SSE: every request needs a bearer
token from the tokens file; binding beyond loopback without tokens refuses to start.
"""

import argparse
import ipaddress
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from mcp.server import MCPServer
from mcp.server.auth.settings import AuthSettings
from starlette.requests import Request
from starlette.responses import JSONResponse

from mcp_servers.common.tokens import Identity, StoreTokenVerifier, TokenStore
from zava_core.config import ConfigError, Settings
from zava_core.redaction import install_log_redaction

ServerFactory = Callable[..., MCPServer]
MAX_BODY_BYTES = 1024 * 1024


def tokens_path(settings: Settings) -> Path:
    return settings.tokens_file or settings.data_dir / "tokens.json"


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
    store = TokenStore(tokens_path(settings))
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
    args = _parser(name).parse_args(sys.argv[1:] if argv is None else argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # Logs go to stderr: on stdio, stdout carries the protocol.
    logging.basicConfig(level=settings.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_redaction(settings)
    server = build_for_transport(factory, settings, args)
    if args.transport == "stdio":
        server.run("stdio")
    elif args.transport == "http":
        server.run("streamable-http", host=args.host, port=args.port, max_request_body_size=MAX_BODY_BYTES)
    else:
        server.run("sse", host=args.host, port=args.port, max_request_body_size=MAX_BODY_BYTES)
    return 0
