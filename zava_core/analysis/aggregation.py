"""Read-only aggregation for an untrusted caller: a checked, store-scoped pipeline under hard limits.

The pipeline is parsed, checked and scoped by `aggregation_guard`; here it runs under a time limit, a
row cap (a `$limit` appended, so the server stops early too) and a byte cap on the JSON returned,
because one row of a `$lookup` can be as big as a whole result. The server is sent `maxTimeMS`, and
the caller is answered at the same deadline whatever the server does: the embedded engine checks
`maxTimeMS` only between some stages (a `$lookup` then `$unwind` asked for 2 s ran 12 s).

The engine is shared by every caller and works on one command at a time per connection, under one
GIL: a few heavy pipelines slow everyone. So `InFlight` lets each caller (a store set) run one
aggregation at a time and the process a few, and refuses at once beyond that rather than queueing.
A pipeline counts until the engine has answered it, not until its caller was answered: a caller told
"time limit" whose pipeline the engine is still working on cannot start another one on top of it
(the wait is cut at ABANDON_AFTER_S, after which the connection is closed and the slot freed).
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from bson import CodecOptions, DatetimeConversion
from bson.errors import InvalidBSON, InvalidDocument
from pydantic import Field
from pymongo.asynchronous.command_cursor import AsyncCommandCursor
from pymongo.errors import ExecutionTimeout, OperationFailure, PyMongoError

from zava_core import hints
from zava_core import limits as L
from zava_core.analysis.engine_errors import VALUE, locate, operators_named, own_words, stored_values_removed
from zava_core.analysis.guard import check_pipeline, parse_pipeline, scope_pipeline
from zava_core.analysis.inflight import Rows
from zava_core.context import Zava
from zava_core.errors import InvalidArgument, TimedOut
from zava_core.scope import Scope
from zava_core.shaping import HARD_CAP, ListMeta, Out, cap_rows, json_safe, list_meta

ERRMSG_CHARS = 400
# How long a pipeline the caller was already answered about may keep its slot while the engine works on:
# long enough for the engine's own late stops (seen: 12 s on a 2 s limit), short enough that a runaway
# does not lock its caller out for good.
ABANDON_AFTER_S = 120.0
_MAX_TIME_MS_EXPIRED = 50  # MongoDB's error code, should a driver not map it to ExecutionTimeout


class AggregationTimeout(TimedOut):
    """The pipeline ran past the time limit and the server stopped it."""


class AggregationRejected(InvalidArgument):
    """MongoDB refused the pipeline (its message says why)."""


class AppliedLimits(Out):
    max_time_ms: int = Field(description="Time limit of the pipeline")
    row_cap: int = Field(description="Most rows returned")
    byte_cap: int = Field(description="Most bytes of row JSON returned")
    scope: str = Field(description="Whose stores the pipeline could read")
    scope_stage: dict[str, Any] = Field(description="The $match put first (and before every $lookup/$unionWith)")


class AggregationResult(Out):
    collection: str
    rows: list[dict[str, Any]]
    meta: ListMeta
    applied: AppliedLimits


async def run_aggregation(zava: Zava, scope: Scope, collection: str, pipeline: str | list,
                          max_rows: int = 20) -> AggregationResult:
    """Run a caller's pipeline on `collection` within `scope`; raises InvalidArgument subclasses on refusal."""
    row_cap, cap_note = cap_rows(max_rows)
    stages = parse_pipeline(pipeline)
    check_pipeline(collection, stages)
    scoped = scope_pipeline(collection, stages, scope)
    scoped.append({"$limit": row_cap + 1})  # one more than the cap, to know whether more matched
    task = zava.aggregations.start(scope, lambda: _run(zava, collection, scoped, row_cap, stages))
    try:
        # shield: at the deadline (or if our caller goes away) the task goes on and keeps its slot.
        rows, cut = await asyncio.wait_for(asyncio.shield(task), L.AGGREGATION_MAX_TIME_MS / 1000)
    except TimeoutError:
        raise _timeout() from None
    meta = list_meta(len(rows), total=None if cut else len(rows), truncated=cut is not None,
                     notes=[cap_note, _cut_note(cut, row_cap, len(rows))], more=None)  # the cut note says how
    applied = AppliedLimits(max_time_ms=L.AGGREGATION_MAX_TIME_MS, row_cap=row_cap, byte_cap=L.AGGREGATION_BYTE_CAP,
                            scope=scope.label, scope_stage=json_safe(scoped[0]))
    return AggregationResult(collection=collection, rows=rows, meta=meta, applied=applied)


# Dates outside Python's years 1-9999 decode as DatetimeMS instead of failing the whole answer.
_CODEC = CodecOptions(tz_aware=True, datetime_conversion=DatetimeConversion.DATETIME_AUTO)


async def _run(zava: Zava, collection: str, pipeline: list[dict], row_cap: int, caller_stages: list[dict]) -> Rows:
    try:
        # One batch holds every row we may return, so the result comes back in a single round trip.
        target = zava.collections[collection].with_options(codec_options=_CODEC)
        # Not pymongo.timeout: it would send the server maxTimeMS from the backstop, not the limit.
        async with asyncio.timeout(ABANDON_AFTER_S):
            cursor = await target.aggregate(pipeline, batchSize=row_cap + 1, maxTimeMS=L.AGGREGATION_MAX_TIME_MS)
            async with cursor:
                return await _collect(cursor, row_cap)
    except TimeoutError:  # the backstop: PyMongo closed the connection the engine was still working on
        raise _timeout() from None
    except OperationFailure as exc:
        raise _failure(exc, caller_stages) from None
    except PyMongoError as exc:
        if exc.timeout:
            raise _timeout() from None
        raise
    except (InvalidDocument, OverflowError, UnicodeEncodeError) as exc:
        # Values BSON cannot carry: integers beyond 64 bits, a NUL in a key, a lone surrogate.
        raise AggregationRejected(f"the pipeline holds a value BSON cannot encode ({type(exc).__name__}: "
                                  f"{str(exc)[:150]}); use 64-bit numbers and plain text") from None
    except InvalidBSON as exc:
        raise AggregationRejected("a result could not be decoded (InvalidBSON); project that field away or convert "
                                  "it with $toString", quoted=stored_values_removed(str(exc)[:150])) from None


async def _collect(cursor: AsyncCommandCursor, row_cap: int) -> Rows:
    """Rows as JSON-safe values until the row or byte cap; the second value names the cap that cut."""
    rows: list[dict] = []
    used = 2  # the brackets of the JSON array
    async for doc in cursor:
        if len(rows) == row_cap:
            return rows, "rows"
        row = json_safe(doc)
        size = len(json.dumps(row, separators=(",", ":"), ensure_ascii=False).encode("utf-8")) + (1 if rows else 0)
        if used + size > L.AGGREGATION_BYTE_CAP:
            return rows, "bytes"
        rows.append(row)
        used += size
    return rows, None


def _cut_note(cut: str | None, row_cap: int, returned: int) -> str | None:
    if cut == "rows":
        return hints.AGGREGATION_ROW_CAP(cap=row_cap, hard_cap=HARD_CAP)
    if cut == "bytes" and returned == 0:
        return (f"the first row alone is over the byte cap of {L.AGGREGATION_BYTE_CAP:,} bytes of JSON: $project "
                "fewer fields (large arrays such as $lookup results or embeddings)")
    if cut == "bytes":
        return (f"stopped at the byte cap of {L.AGGREGATION_BYTE_CAP:,} bytes of JSON after {returned} rows: "
                "$project fewer fields or $group to summarise")
    return None


def _timeout() -> AggregationTimeout:
    return AggregationTimeout(
        f"the pipeline ran past the time limit of {L.AGGREGATION_MAX_TIME_MS:,} ms and was stopped: start it with a "
        "$match on store_id and a date range (order_date) to read fewer documents, or use the "
        "sales_monthly rollup (one document per store and month) for sales totals")


def _failure(exc: OperationFailure, pipeline: list[dict]) -> InvalidArgument:
    """The engine's refusal in the caller's terms: its code, and the operator and stage it names, in our
    words; its own message only with stored values removed, as quoted data (the servers fence it)."""
    if isinstance(exc, ExecutionTimeout) or exc.code == _MAX_TIME_MS_EXPIRED:
        return _timeout()
    details = exc.details if isinstance(exc.details, dict) else {}
    message = stored_values_removed(str(details.get("errmsg") or exc)[:ERRMSG_CHARS], own_words(pipeline))
    code_name = str(details.get("codeName") or "")
    code = f"error {exc.code}" + (f" {code_name}" if re.fullmatch(r"[A-Za-z0-9]{1,60}", code_name) else "")
    operators = operators_named(message)
    where = locate(pipeline, operators)
    at = f" at {where}" if where else (f" ({operators[0]})" if operators else "")
    return AggregationRejected(f"MongoDB rejected the pipeline{at} ({code}); fix the pipeline and try again "
                               f"(values read from documents are shown as {VALUE}; give conversions an onError "
                               "value, or $match the values first)", quoted=message)
