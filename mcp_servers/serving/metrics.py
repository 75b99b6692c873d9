"""Prometheus metrics for the HTTP transports, served at `/metrics` in the text format (off for stdio).

What an operator needs to see, and nothing a caller sent: tool calls by server, tool and outcome, their
latency, database errors, auth refusals by kind, and how old the analysis cube is. Tool names are the
registered ones only (an unknown name counts as `unknown`), so a caller cannot grow the label set.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

if TYPE_CHECKING:
    from mcp.server import MCPServer

    from zava_core.context import Zava

# One registry per process, ours alone (the default one would also collect whatever else registers there).
REGISTRY = CollectorRegistry()
TOOL_CALLS = Counter("zava_tool_calls", "Tool calls by outcome", ["server", "tool", "outcome"], registry=REGISTRY)
TOOL_SECONDS = Histogram("zava_tool_call_seconds", "Tool call latency", ["server", "tool"], registry=REGISTRY,
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 30.0))
DATABASE_ERRORS = Counter("zava_database_errors", "Tool calls that failed on the database", registry=REGISTRY)
AUTH_FAILURES = Counter("zava_auth_failures", "Requests refused at the door (401/403)", ["reason"],
                        registry=REGISTRY)


class CubeAge(Collector):
    """Seconds since each open process's cube was last loaded or checked against the rollup (none: not
    loaded yet, the analysis server's first question loads it)."""

    def __init__(self) -> None:
        self.open: list[Zava] = []

    def watch(self, zava: Zava | None) -> None:
        """A lifespan hook: the process's Zava while it is open (None: closed, forgotten)."""
        self.open = [zava] if zava is not None else []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("zava_cube_age_seconds", "Seconds since the sales cube was loaded or checked")
        for zava in self.open:
            checked = getattr(zava.cube, "_checked_at", 0.0)
            if getattr(zava.cube, "_cube", None) is not None and checked:
                family.add_metric([], time.monotonic() - checked)
        yield family


CUBES = CubeAge()
REGISTRY.register(CUBES)


class FeedGauges(CubeAge):
    """The change feed of each open process: following or not, how far behind the commits it handles are, what it
    has done (events, orders folded into the rollups, offline conflicts recorded)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        following = GaugeMetricFamily("zava_feed_following", "1 while the change feed follows the database")
        lag = GaugeMetricFamily("zava_feed_lag_seconds", "Commit to handled, seconds: the last batch, and the "
                                "p99 of recent ones", labels=["quantile"])
        totals = GaugeMetricFamily("zava_feed_total", "Since the process started", labels=["what"])
        for zava in self.open:
            feed = zava.feed
            if feed is None:
                continue
            state = feed.state
            following.add_metric([], 1.0 if state.mode == "following" else 0.0)
            lag.add_metric(["last"], state.lag_seconds)
            lag.add_metric(["0.99"], state.lag_percentile(0.99))
            for what, value in (("events", state.events), ("folded_orders", state.folded_orders),
                                ("conflicts_found", state.conflicts_found), ("errors", state.errors)):
                totals.add_metric([what], float(value))
        yield from (following, lag, totals)


FEEDS = FeedGauges()
REGISTRY.register(FEEDS)


def observe_tool(server: str, tool: str, outcome: str, seconds: float) -> None:
    TOOL_CALLS.labels(server, tool, outcome).inc()
    TOOL_SECONDS.labels(server, tool).observe(seconds)


def add_metrics_route(server: MCPServer) -> None:
    @server.custom_route("/metrics", methods=["GET"])
    async def metrics(request: Request) -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
