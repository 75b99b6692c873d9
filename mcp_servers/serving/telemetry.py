"""OpenTelemetry for the servers: spans exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set.

The spans are the SDK's (one per MCP request: `tools/call get_inventory`, with the tool's name) and zava_core's
(one per database command, a child of the tool's span, with the tool and store scope: see
`zava_core/infra/telemetry.py`); none carries an argument value. Without the variable nothing is configured
and every span is a no-op.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from opentelemetry import trace

from zava_core.infra.config import Settings

log = logging.getLogger("zava.telemetry")


def configure_tracing(settings: Settings, service_name: str) -> Callable[[], object] | None:
    """Install a tracer provider exporting to the configured OTLP endpoint; returns what flushes it at shutdown
    (None when no endpoint is set)."""
    endpoint = settings.serving.otlp_endpoint
    if not endpoint:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    # OTLP/HTTP's path for traces under the base endpoint (what the exporter does with the variable itself).
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces")))
    trace.set_tracer_provider(provider)
    log.info("exporting traces to %s", endpoint)
    return provider.shutdown
