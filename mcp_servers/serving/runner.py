"""Command line and transports shared by both servers.

    python -m mcp_servers.customer_sales [--transport stdio|http|sse] [--host H] [--port P] [--stateless]
                                         [--store seattle | --head-office] [--read-only]

stdio (Claude Desktop): the identity comes from the launch (--store / --head-office, or ZAVA_STORE /
ZAVA_HEAD_OFFICE); with none the server exits at start. HTTP and SSE: every request needs a bearer token,
either one of ours (ZAVA_AUTH=tokens, the default: the tokens file or, with ZAVA_TOKEN_STORE=mongodb, the
database) or a JWT from the organisation's identity provider (ZAVA_AUTH=oidc, see oidc.py); binding beyond
loopback without tokens refuses to start. HTTP also serves /health and /metrics (Prometheus).
"""

import argparse
import errno
import inspect
import ipaddress
import logging
import sys
from collections.abc import Callable

from mcp.server import MCPServer
from mcp.server.auth.provider import TokenVerifier
from mcp.server.auth.settings import AuthSettings
from mcp.server.request_state import RequestStateBoundary, RequestStateSecurity
from mcp.server.transport_security import TransportSecuritySettings
from pymongo.errors import PyMongoError
from starlette.requests import Request
from starlette.responses import JSONResponse

from mcp_servers.auth.bearer_tokens import StoreTokenVerifier
from mcp_servers.auth.oidc import OidcVerifier
from mcp_servers.auth.token_store import open_token_store
from mcp_servers.serving.http import MAX_BODY_BYTES, http_app, serve
from mcp_servers.serving.logging_format import configure_logging
from mcp_servers.serving.metrics import CUBES, FEEDS, add_metrics_route
from mcp_servers.serving.telemetry import configure_tracing
from zava_core.context import Zava
from zava_core.errors import ZavaError
from zava_core.infra import db as zdb
from zava_core.infra.config import Settings
from zava_core.infra.redaction import install_log_redaction, redact, remember_secrets, settings_secrets
from zava_core.model.ids import store_key
from zava_core.scope import Identity

ServerFactory = Callable[..., MCPServer]
log = logging.getLogger("zava.mcp")
__all__ = ["MAX_BODY_BYTES", "build_for_transport", "http_app", "main"]


def _writes(factory: ServerFactory) -> bool:
    """Whether the server has writing tools to leave out: its factory takes `read_only`."""
    return "read_only" in inspect.signature(factory).parameters


def _write_options(factory: ServerFactory, args: argparse.Namespace, settings: Settings) -> dict[str, bool]:
    if not _writes(factory):
        return {}
    return {"read_only": bool(getattr(args, "read_only", False) or settings.read_only)}


def _parser(name: str, writes: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m mcp_servers.{name}")
    parser.add_argument("--transport", choices=["stdio", "http", "sse"], default="stdio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--store", help="serve as the manager of this store (stdio)")
    who.add_argument("--head-office", action="store_true", help="serve as head office: every store (stdio)")
    if writes:
        parser.add_argument("--read-only", action="store_true", help="leave the writing tools out")
    parser.add_argument("--stateless", action="store_true",
                        help="HTTP without server-side sessions (JSON responses): any replica answers any request")
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
        # Always 200 while the process serves (it answers from the database while it loads); `ready` says whether
        # lookups answer from memory yet (startup.py).
        startup = getattr(server, "startup", None)
        loading = startup.report() if startup is not None else {"ready": False}
        return JSONResponse({"status": "ok", "server": server.name, **loading})


def build_for_transport(factory: ServerFactory, settings: Settings, args: argparse.Namespace) -> MCPServer:
    """The server as configured by the command line; raises SystemExit with a one-line reason."""
    options = _write_options(factory, args, settings)
    if args.transport == "stdio":
        identity = launch_identity(args, settings)
        if identity is None:
            raise SystemExit("error: no identity: start with --store STORE or --head-office "
                             "(or set ZAVA_STORE / ZAVA_HEAD_OFFICE=1)")
        return factory(settings, identity, **options)
    if args.store or args.head_office:
        raise SystemExit("error: --store/--head-office apply to stdio; HTTP callers identify with bearer tokens "
                         "(python -m mcp_servers.tokens issue --store seattle)")
    if getattr(args, "stateless", False) and args.transport == "sse":
        raise SystemExit("error: --stateless applies to --transport http (SSE keeps a stream per client)")
    verifier: TokenVerifier
    if settings.serving.auth == "oidc":
        verifier = OidcVerifier(settings.serving)
        auth = _oidc_auth(settings, args)
    else:
        store = open_token_store(settings)
        try:
            has_tokens = store.has_tokens()
        except PyMongoError as exc:  # ZAVA_TOKEN_STORE=mongodb and the database does not answer
            raise SystemExit(f"error: the token store in MongoDB is unavailable: "
                             f"{redact(str(exc), settings_secrets(settings))[:200]}") from None
        if not has_tokens:
            if not is_loopback(args.host):
                raise SystemExit(f"error: refusing to listen on {args.host} without tokens: issue one with "
                                 "python -m mcp_servers.tokens issue --store STORE")
            log.warning("no tokens in %s: every request will be refused (401)", store.where)
        verifier, auth = StoreTokenVerifier(store), _tokens_auth(args)
    server = factory(settings, None, auth=auth, token_verifier=verifier, **options)
    hooks = [CUBES.watch, FEEDS.watch]
    if isinstance(verifier, OidcVerifier):
        hooks.append(_store_check_for(verifier))
    server.zava_hooks = (*getattr(server, "zava_hooks", ()), *hooks)  # called by the lifespan (app.py)
    if settings.serving.request_state_keys:
        share_request_state(server, settings.serving.request_state_keys)
    elif getattr(args, "stateless", False):
        log.warning("--stateless without ZAVA_REQUEST_STATE_KEYS: a confirmation (2026-07-28) must come back to "
                    "the replica that asked")
    add_health_route(server)
    if settings.serving.metrics:
        add_metrics_route(server)
    return server


def share_request_state(server: MCPServer, keys: tuple[str, ...]) -> None:
    """Seal confirmation rounds with keys every replica holds (the SDK's default is a key of this process)."""
    remember_secrets(keys)  # masked in every log record from now on
    security = RequestStateSecurity(keys=list(keys))
    chain = server.middleware
    for position, step in enumerate(chain):
        if isinstance(step, RequestStateBoundary):
            chain[position] = RequestStateBoundary(security, default_audience=server.name)


def _base_url(args: argparse.Namespace) -> str:
    host = f"[{args.host}]" if ":" in args.host else args.host  # IPv6 literals go in brackets in a URL
    return f"http://{host}:{args.port}"


def _tokens_auth(args: argparse.Namespace) -> AuthSettings:
    # Static bearer tokens: we are our own issuer and publish no OAuth metadata.
    return AuthSettings(issuer_url=_base_url(args), resource_server_url=None,
                        validate_token_resource=False, required_scopes=["zava"])


def _oidc_auth(settings: Settings, args: argparse.Namespace) -> AuthSettings:
    """The identity provider is the issuer; we publish RFC 9728 protected-resource metadata naming it, so MCP
    clients find where to get a token. The audience is checked by OidcVerifier itself."""
    resource = f"{settings.serving.public_url or _base_url(args)}/mcp"
    return AuthSettings(issuer_url=settings.serving.oidc_issuer, resource_server_url=resource,
                        validate_token_resource=False)


def _store_check_for(verifier: OidcVerifier) -> Callable[[Zava | None], None]:
    """A lifespan hook giving the verifier the open database's stores: a claim naming no store is a 403."""
    def hook(zava: Zava | None) -> None:
        if zava is None:
            verifier.store_check = None
            return

        async def resolve_store(name: str) -> str:
            directory = (await zava.reference.get()).stores
            return store_key(directory.resolve(name).store_id)

        verifier.store_check = resolve_store
    return hook


LOOPBACK_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
LOOPBACK_ORIGINS = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]


def transport_security(settings: Settings, host: str) -> TransportSecuritySettings | None:
    """The Host/Origin check against DNS rebinding: ZAVA_ALLOWED_HOSTS/ORIGINS when set; the loopback names
    when bound to loopback; off otherwise (said at start: set ZAVA_ALLOWED_HOSTS behind a proxy)."""
    hosts, origins = list(settings.serving.allowed_hosts), list(settings.serving.allowed_origins)
    if hosts:
        return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts,
                                         allowed_origins=origins)
    if is_loopback(host):
        return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=LOOPBACK_HOSTS,
                                         allowed_origins=origins or LOOPBACK_ORIGINS)
    log.warning("listening on %s without ZAVA_ALLOWED_HOSTS: the Host/Origin check is off", host)
    return None


def main(name: str, factory: ServerFactory, argv: list[str] | None = None) -> int:
    """Run a server until it is stopped; a start-up failure is one line on stderr and exit status 1 or 2.

    On stdio the client (Claude Desktop, the Inspector) shows the launched server's stderr, so a failure
    raised inside the lifespan (an unknown store, an empty or unreachable database) must reach it as the
    one line that says what to do, not as anyio's ExceptionGroup traceback.
    """
    args = _parser(name, writes=_writes(factory)).parse_args(sys.argv[1:] if argv is None else argv)
    settings: Settings | None = None
    try:
        settings = Settings.from_env()
        configure_logging(settings.log_level, settings.serving.log_format)  # stderr: stdio's stdout is the protocol
        install_log_redaction(settings)
        server = build_for_transport(factory, settings, args)
        flush_spans = configure_tracing(settings, server.name)
        if args.transport == "stdio":
            server.run("stdio")
        else:
            app = http_app(server, args.transport, args.host, stateless=args.stateless,
                           security=transport_security(settings, args.host))
            if flush_spans is not None:
                app.on_shutdown.append(flush_spans)
            app.on_started.append(lambda: announce(server.name, args, settings))
            json_logs = {"log_config": None} if settings.serving.log_format == "json" else {}  # uvicorn logs via ours
            serve(app, args.host, args.port, settings.log_level, **json_logs)
    except KeyboardInterrupt:
        return 0
    except SystemExit as exc:
        if isinstance(exc.code, str):
            zdb.release_started_engine()
            print(exc.code, file=sys.stderr)
            return 2
        raise
    except BaseException as exc:
        cause = _first_cause(exc)
        if isinstance(cause, KeyboardInterrupt):
            return 0
        zdb.release_started_engine()  # a server that could not start leaves no engine of its own running
        print(f"error: {_one_line(cause, settings)}", file=sys.stderr)
        return 2 if isinstance(cause, ZavaError) else 1
    return 0


def announce(name: str, args: argparse.Namespace, settings: Settings) -> None:
    """Say where the server listens, once it is ready: a launch with --transport http|sse must show the URL to
    give a client. On stderr (never the protocol), whatever the log level; a JSON log gets it as a record."""
    base = _base_url(args)
    endpoint = f"{base}/sse" if args.transport == "sse" else f"{base}/mcp"
    kind = "SSE" if args.transport == "sse" else "Streamable HTTP"
    extra = f"health {base}/health" + (f", metrics {base}/metrics" if settings.serving.metrics else "")
    line = f"{name}: {kind} at {endpoint} ({extra})"
    if settings.serving.log_format == "json":
        log.warning("%s", line)
    else:
        print(line, file=sys.stderr, flush=True)


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
