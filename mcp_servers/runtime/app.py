"""What both servers share: the lifespan (one zava_core client per process), the caller's scope,
and the mapping of zava_core's expected failures to the SDK's ToolError (text starting with the error's code).

Every tool body runs inside `async with call(ctx) as (zava, scope)`: the scope comes from the
launch identity (stdio, in-process) or from the verified bearer token (HTTP, SSE). With neither,
the call is refused: no identity, no data.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
from mcp.server import MCPServer
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.elicitation import AcceptedElicitation, ElicitationResult
from mcp.server.mcpserver import Context, Elicit
from pydantic import BaseModel, Field
from pymongo.errors import PyMongoError

from mcp_servers.auth.bearer_tokens import CallerToken
from mcp_servers.runtime.replies import CodedToolError, error_text
from mcp_servers.runtime.startup import Startup
from mcp_servers.serving.metrics import DATABASE_ERRORS
from zava_core.context import Zava
from zava_core.errors import ErrorCode, NotConfirmed, ZavaError
from zava_core.infra import telemetry
from zava_core.infra.config import Settings
from zava_core.infra.redaction import redact, settings_secrets
from zava_core.retail import search, spelling
from zava_core.scope import Identity, Scope, require_identity
from zava_core.scope import scope_for as scope_in

log = logging.getLogger("zava.mcp")

UNEXPECTED = "unexpected server error (details are in the server log)"
SEARCH_WARM_UP_WAIT_SECONDS = 10.0  # the ONNX model loads in ~1 s, the static table in ~0.3 s


@dataclass
class AppState:
    zava: Zava
    launch_identity: Identity | None
    read_only: bool = False  # the server was started without its writing tools (it records nothing either)


WarmUp = Callable[[Zava], Awaitable[object]]


def make_lifespan(settings: Settings, launch_identity: Identity | None, warm_ups: tuple[WarmUp, ...] = (),
                  read_models: tuple[str, ...] = ("stock",), first: WarmUp | None = None, read_only: bool = False):
    """One zava_core client per process; `warm_ups` load caches in the background while clients connect;
    `read_models` (zava_core.readmodels) are followed, each loaded on its first use; `first` (the customer-sales
    server's search) is waited for before the first call is accepted, up to SEARCH_WARM_UP_WAIT_SECONDS: the first
    search must not pay for loading the embedder and building the BM25 index. A slow start stops waiting and
    carries on behind."""
    @asynccontextmanager
    async def lifespan(server: MCPServer) -> AsyncIterator[AppState]:
        started = time.monotonic()
        zava = await Zava.open(settings)
        for hook in getattr(server, "zava_hooks", ()):  # the runner's: /metrics' cube age, the OIDC store check
            hook(zava)
        warm = search_warm = startup = None
        try:
            if launch_identity is not None:
                await scope_for(zava, launch_identity)  # an unknown --store fails at start, not per call
            # Derived data follows every writer: the feed folds orders (ours, devices', scripts') into the rollups
            # and keeps the in-memory structures current. It starts in the background and never blocks the start.
            await zava.start_feed(read_models)
            if first is not None:
                search_warm = asyncio.create_task(_warm_up(zava, (first,)))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(search_warm), SEARCH_WARM_UP_WAIT_SECONDS)
            warm = asyncio.create_task(_warm_up(zava, warm_ups))
            startup = Startup(zava, read_models, tuple(t for t in (search_warm, warm) if t is not None), started)
            server.startup = startup  # /health's readiness, what the benchmarks wait on
            yield AppState(zava=zava, launch_identity=launch_identity, read_only=read_only)
        finally:
            if startup is not None:
                server.startup = None
                await startup.close()
            for task in (warm, search_warm):
                if task is not None:
                    task.cancel()
            for hook in getattr(server, "zava_hooks", ()):
                hook(None)
            await zava.close()

    return lifespan


async def warm_search(zava: Zava) -> None:
    """The catalog, its BM25 indexes and the synonyms first (no embedder needed), then the embedder and vectors."""
    await zava.catalog.warm()
    await zava.synonyms.get()
    await zava.search.prepare()
    await anyio.to_thread.run_sync(spelling.dictionary_words)
    await search.rank_products(zava, "warm up", "hybrid", 0.0, await zava.catalog.get(),  # first-call costs
                               await zava.synonyms.get())


async def _warm_up(zava: Zava, steps: tuple[WarmUp, ...]) -> None:
    for step in steps:
        try:
            await step(zava)
        except Exception as exc:  # the first call that needs it will report it properly
            log.info("warm-up %s skipped: %s", getattr(step, "__name__", step), exc)


async def scope_for(zava: Zava, identity: Identity) -> Scope:
    """The identity's scope against the stores in this database (an unknown store is refused)."""
    return scope_in(identity, (await zava.reference.get()).stores)


def _request_identity(state: AppState) -> Identity | None:
    """The verified token's identity on HTTP, the launch identity on stdio; a token of another kind grants
    nothing (fail closed)."""
    token = get_access_token()
    if token is not None:
        return token.identity if isinstance(token, CallerToken) else None
    return state.launch_identity


def _who(state: AppState) -> str:
    """Who asks, for audit records (the till's): the identity provider's subject, a token's identity, or the
    identity the server was launched with."""
    token = get_access_token()
    if token is not None:
        return str(token.subject or token.client_id)
    return f"launch:{state.launch_identity.label}" if state.launch_identity is not None else ""


@asynccontextmanager
async def call(ctx: Context) -> AsyncIterator[tuple[Zava, Scope]]:
    """Resolve the caller and run a tool body, turning expected failures into a ToolError that starts with
    their code (`zava_core.errors.ErrorCode`)."""
    state: AppState = ctx.request_context.lifespan_context
    try:
        scope = (await scope_for(state.zava, require_identity(_request_identity(state)))).with_caller(_who(state))
        with telemetry.caller(scope=scope.name):  # query spans carry the scope, never argument values
            yield state.zava, scope
    except CodedToolError:
        raise
    except ZavaError as exc:
        raise CodedToolError(exc.code, error_text(str(exc), exc.quoted)) from None
    except PyMongoError as exc:
        DATABASE_ERRORS.inc()
        log.warning("database error: %s", redact(str(exc), settings_secrets(state.zava.settings))[:300])
        raise CodedToolError(ErrorCode.UNAVAILABLE, "the database is unavailable right now; nothing was changed, "
                                                    "try again shortly") from None
    except Exception:
        log.exception("unexpected error in a tool")
        raise CodedToolError(ErrorCode.INTERNAL, UNEXPECTED) from None


class Confirmation(BaseModel):
    confirm: bool = Field(description="Go ahead with this change")


Question = Callable[[Zava, Scope], Awaitable[str]]


async def ask_to_confirm(ctx: Context, question: Question) -> Elicit[Confirmation] | Confirmation:
    """What a write tool's confirmation resolver returns: for a client that offers elicitation, the question
    zava_core builds from the database (`retail.confirmations`, within the caller's scope: it fails as the tool
    would); for one that does not (most agent frameworks), the write goes ahead as before, the tool's
    annotations having told the host that it writes, and nothing is read. The SDK asks the question the way
    the protocol version wants (a request mid-call, or an input_required round)."""
    capabilities = ctx.client_capabilities
    if capabilities is None or capabilities.elicitation is None:
        return Confirmation(confirm=True)
    async with call(ctx) as (zava, scope):
        summary = await question(zava, scope)
    return Elicit(f"{summary}. Go ahead?", Confirmation)


def require_confirmed(outcome: ElicitationResult[Confirmation]) -> None:
    """Refuse the write unless the user accepted and confirmed; nothing has been changed yet."""
    if not isinstance(outcome, AcceptedElicitation) or not outcome.data.confirm:
        raise NotConfirmed(f"not confirmed by the user ({outcome.action}): nothing was changed")
