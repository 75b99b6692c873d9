"""Output discipline for LLM callers: capped lists that say when they were cut, JSON-safe values."""

from __future__ import annotations

import base64
import datetime as dt
import math
import uuid
from typing import Any

from bson import DatetimeMS, Decimal128, ObjectId, Regex, Timestamp
from pydantic import BaseModel, ConfigDict, Field

from zava_core import hints
from zava_core.errors import InvalidArgument
from zava_core.hints import Hint
from zava_core.infra.timeutil import iso
from zava_core.limits import HARD_CAP


def _drop_titles(schema: dict, _cls: type) -> None:
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)


class Out(BaseModel):
    """Base of every model returned to an LLM: its JSON schema carries no generated titles, because
    tool schemas are sent with every tools/list and titles repeat the field names."""

    model_config = ConfigDict(json_schema_extra=_drop_titles)


def cap_rows(max_rows: int, *, name: str = "max_rows") -> tuple[int, str | None]:
    """Clamp a requested row count to the hard cap; the note (if any) tells the caller it was lowered."""
    if isinstance(max_rows, bool) or not isinstance(max_rows, int):
        raise InvalidArgument(f"{name} must be a whole number from 1 to {HARD_CAP}")
    if max_rows < 1:
        raise InvalidArgument(f"{name} must be at least 1")
    if max_rows > HARD_CAP:
        return HARD_CAP, f"{name} lowered to the hard cap of {HARD_CAP}"
    return max_rows, None


class ListMeta(Out):
    returned: int
    total: int | None = Field(None, description="Rows matched, when known")
    truncated: bool = Field(description="More rows matched than returned")
    note: str | None = None


def list_meta(returned: int, *, total: int | None = None, truncated: bool | None = None,
              notes: list[str | None] | tuple = (), more: Hint | None = hints.MORE_ROWS) -> ListMeta:
    """`more`: what to say when rows were cut, naming the tool's own row argument (None: a note says it)."""
    cut = truncated if truncated is not None else (total is not None and total > returned)
    said = [n for n in notes if n]
    if cut and more is not None:
        said.append(more(cap=HARD_CAP))
    return ListMeta(returned=returned, total=total, truncated=cut, note="; ".join(said) or None)


def json_safe(value: Any) -> Any:
    """BSON values as JSON-safe values (Extended JSON shapes where JSON has no type)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$numberDouble": str(value)}
    if isinstance(value, ObjectId):
        return {"$oid": str(value)}
    if isinstance(value, dt.datetime):
        return {"$date": iso(value if value.tzinfo else value.replace(tzinfo=dt.UTC))}
    if isinstance(value, DatetimeMS):  # a date outside Python's years 1-9999
        return {"$date": {"$numberLong": str(int(value))}}
    if isinstance(value, Decimal128):
        return {"$numberDecimal": str(value)}
    if isinstance(value, bytes):
        return {"$binary": base64.b64encode(value).decode()}
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Timestamp):
        return {"$timestamp": {"t": value.time, "i": value.inc}}
    if isinstance(value, Regex):
        return {"$regex": value.pattern, "$options": value.flags if isinstance(value.flags, str) else ""}
    return str(value)
