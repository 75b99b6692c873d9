"""One OpenTelemetry span per database command zava_core sends, with the tool and the store scope it runs
for, and never a value from the command (a filter may hold a customer's name or email).

OpenTelemetry's API only: without an SDK configured (the servers configure one when
OTEL_EXPORTER_OTLP_ENDPOINT is set) every span is a no-op. The servers say which tool and scope a call runs
for with `caller(...)`; zava_core never imports mcp.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, StatusCode
from pymongo import monitoring

TRACER = trace.get_tracer("zava_core")
# Handshakes and session bookkeeping: not queries.
UNTRACED = frozenset({"hello", "ismaster", "isMaster", "ping", "endSessions", "saslStart", "saslContinue",
                      "buildInfo", "killCursors"})
MAX_OPEN_SPANS = 10_000  # commands whose answer never came (a dropped connection) are forgotten past this

_TOOL: ContextVar[str | None] = ContextVar("zava_tool", default=None)
_SCOPE: ContextVar[str | None] = ContextVar("zava_scope", default=None)


@contextmanager
def caller(tool: str | None = None, scope: str | None = None) -> Iterator[None]:
    """Within the block, query spans carry this tool name and store scope (`head-office`, `store:seattle`)."""
    tokens = [(var, var.set(value)) for var, value in ((_TOOL, tool), (_SCOPE, scope)) if value is not None]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def current_tool() -> str | None:
    """The tool the current call runs for (None outside a tool call)."""
    return _TOOL.get()


class QuerySpans(monitoring.CommandListener):
    """PyMongo's command monitoring as spans (the listener runs in the task that sent the command, so each span
    is a child of the tool call's span)."""

    def __init__(self) -> None:
        self._open: dict[tuple[int, object], Span] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in UNTRACED:
            return
        target = event.command.get(event.command_name)
        collection = target if isinstance(target, str) else event.command.get("collection")
        attributes: dict[str, str] = {"db.system.name": "mongodb", "db.operation.name": event.command_name,
                                      "db.namespace": event.database_name}
        if isinstance(collection, str):
            attributes["db.collection.name"] = collection
        for key, var in (("zava.tool", _TOOL), ("zava.scope", _SCOPE)):
            value = var.get()
            if value is not None:
                attributes[key] = value
        name = f"{event.command_name} {collection}" if isinstance(collection, str) else event.command_name
        if len(self._open) >= MAX_OPEN_SPANS:
            self._open.clear()
        self._open[(event.request_id, event.connection_id)] = TRACER.start_span(
            name, kind=SpanKind.CLIENT, attributes=attributes)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        span = self._open.pop((event.request_id, event.connection_id), None)
        if span is not None:
            span.end()

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        span = self._open.pop((event.request_id, event.connection_id), None)
        if span is not None:
            # The code name only: an error message can quote the document (a duplicate key's value).
            code = str(event.failure.get("codeName") or event.failure.get("code") or "error")
            span.set_attribute("error.type", code)
            span.set_status(StatusCode.ERROR, code)
            span.end()


QUERY_SPANS = QuerySpans()
