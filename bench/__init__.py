"""The benchmarks (`python -m bench ...`): scripts that print tables, never timed tests."""

from __future__ import annotations

import logging

REQUEST_LOGGERS = ("httpx", "httpx2", "openai")


def quiet_request_logs() -> None:
    """No log line per HTTP request: an in-process MCP server sets the root logger to INFO (the SDK's
    `configure_logging`), and the HTTP clients then log every call over the benchmark's own output."""
    for name in REQUEST_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
