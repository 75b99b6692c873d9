"""ZAVA_LOG_FORMAT=json: one JSON object per line, still masked by the redaction installed at record creation."""

from __future__ import annotations

import io
import json
import logging
from dataclasses import replace

from mcp_servers.serving.logging_format import JsonFormatter
from zava_core.infra.config import Settings
from zava_core.infra.redaction import install_log_redaction

PASSWORD = "s3cret-Pa55word"


def test_json_lines_are_masked_and_one_per_record() -> None:
    settings = replace(Settings(), mongodb_uri=f"mongodb://zava:{PASSWORD}@127.0.0.1:27017/")
    factory = logging.getLogRecordFactory()
    install_log_redaction(settings)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("zava.test.json")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        logger.warning("connect to %s failed\nsecond line", f"mongodb://zava:{PASSWORD}@db")
        logger.info("token Bearer zava_abcdefghijklmnopqrstuvwxyz0123456789 seen")
        try:
            raise RuntimeError(f"boom {PASSWORD}")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
        logging.setLogRecordFactory(factory)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3, lines
    records = [json.loads(line) for line in lines]
    assert [r["level"] for r in records] == ["WARNING", "INFO", "ERROR"]
    assert all(r["logger"] == "zava.test.json" and r["time"].endswith("+00:00") for r in records)
    assert "second line" in records[0]["message"]
    assert "RuntimeError" in records[2]["exception"]
    assert PASSWORD not in stream.getvalue()
    assert "zava_abcdefghijklmnopqrstuvwxyz0123456789" not in stream.getvalue()
